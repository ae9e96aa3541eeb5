"""Xinfang's entrypoints for operators: the ``xinfang`` command line and the process supervisor
behind ``xinfang up``. They compose the services; the kernel (``xinfang``) knows none of them."""

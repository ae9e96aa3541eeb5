"""Logging for every process: one line per record, personal data masked before it is written."""
from __future__ import annotations

import logging
import sys

from xinfang.privacy import RedactingFilter


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)-5s [{service}] %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Faust and mode log every start step at INFO under the module that subclasses them
    for noisy in ("kafka", "aiokafka", "faust", "mode", "uvicorn.access", "xinfang.messaging.streams"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("uvicorn.error").handlers[:] = []
    logging.getLogger("uvicorn").handlers[:] = []

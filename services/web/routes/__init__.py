"""The console's pages by group, one APIRouter each; services/web/app.py includes them in this order.
Every group but ``public`` and the sign-in pages signs the visitor in through the ``Me`` and
``UserApi`` dependencies (services/web/deps.py)."""
from __future__ import annotations

from services.web.routes import (
    cases,
    dispatch,
    documents,
    handling,
    public,
    registration,
    signin,
    statistics,
    supervision,
)

ROUTERS = [public.router, signin.router, registration.router, cases.router, documents.router, dispatch.router,
           handling.router, supervision.router, statistics.router]

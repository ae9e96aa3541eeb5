"""Wires supervision together."""
from pathlib import Path

from services.supervision import api, streams
from services.supervision.domain import DeadlineRules
from xinfang.runtime import ServiceRuntime
from xinfang.web import create_app


def build(**overrides):
    runtime = ServiceRuntime("supervision", migrations=Path(__file__).parent / "migrations",
                             subscriptions=streams.subscriptions(DeadlineRules()), **overrides)
    app = create_app(runtime, title="Xinfang supervision 督查督办",
                     description="Deadlines, warnings, overdue cases and supervision orders")
    app.include_router(api.router(runtime))
    return app, runtime

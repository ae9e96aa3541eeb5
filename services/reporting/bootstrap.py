"""Wires reporting together. Reporting publishes nothing: no relay."""
from pathlib import Path

from services.reporting import api, streams
from xinfang.runtime import ServiceRuntime
from xinfang.web import create_app

MIGRATIONS = Path(__file__).parent / "migrations"


def build(**overrides):
    runtime = ServiceRuntime("reporting", migrations=MIGRATIONS,
                             subscriptions=streams.subscriptions(), publishes=False, **overrides)
    app = create_app(runtime, title="Xinfang reporting 统计研判",
                     description="Rates, counts and exports from every event, at any date")
    app.include_router(api.router(runtime))
    return app, runtime

"""Wires intake's adapters, entrypoints and runtime together, in one place."""
from pathlib import Path

from services.intake import api, streams, views
from xinfang.config import settings
from xinfang.runtime import ServiceRuntime
from xinfang.web import create_app


def build(**overrides):
    runtime = ServiceRuntime("intake", migrations=Path(__file__).parent / "migrations",
                             subscriptions=streams.subscriptions(), **overrides)
    vault = settings().pii_vault()
    runtime.health_details.append(lambda: {"divisions_known": views.count_divisions(runtime.db)})
    app = create_app(runtime, title="Xinfang intake 信访登记",
                     description="Registration and the life of a case (信访事项登记与办理)")
    app.include_router(api.router(runtime, vault))
    return app, runtime

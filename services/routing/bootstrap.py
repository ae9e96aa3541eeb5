"""Wires routing together."""
from pathlib import Path

from services.routing import api, streams
from xinfang.runtime import ServiceRuntime
from xinfang.web import create_app


def build(**overrides):
    runtime = ServiceRuntime("routing", migrations=Path(__file__).parent / "migrations",
                             subscriptions=streams.subscriptions(), **overrides)
    app = create_app(runtime, title="Xinfang routing 交办转送",
                     description="Who handles a case: assignment, forwarding, signing for, objections")
    app.include_router(api.router(runtime))
    return app, runtime

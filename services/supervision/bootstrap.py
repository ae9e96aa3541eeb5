"""Wires supervision together: the runtime, its subscriptions, the ticker, the HTTP surface."""
from pathlib import Path

from services.supervision import api, streams
from services.supervision.projections import Context
from services.supervision.ticker import Ticker
from services.supervision.views import pending_checkpoints
from xinfang.runtime import ServiceRuntime
from xinfang.web import create_app


class SupervisionRuntime(ServiceRuntime):
    """A service runtime that also runs the checkpoint ticker while it is up."""

    def __init__(self, *args, ctx: Context, **kw) -> None:
        super().__init__(*args, **kw)
        self.ctx = ctx
        self.ticker = Ticker(self.db)
        self.health_details.append(self._ticker_health)

    async def start(self) -> None:
        await super().start()
        self.ticker.start()

    async def stop(self) -> None:
        self.ticker.stop()
        await super().stop()

    def _ticker_health(self) -> dict:
        return {"ticker_fired": self.ticker.fired, "ticker_error": self.ticker.last_error,
                **pending_checkpoints(self.db)}


def build(**overrides):
    ctx = Context()
    runtime = SupervisionRuntime("supervision", migrations=Path(__file__).parent / "migrations",
                                 subscriptions=streams.subscriptions(ctx), ctx=ctx, **overrides)
    app = create_app(runtime, title="Xinfang supervision 督查督办",
                     description="Deadlines, warnings, overdue cases, supervision orders and collective-visit alerts")
    app.include_router(api.router(runtime))
    return app, runtime

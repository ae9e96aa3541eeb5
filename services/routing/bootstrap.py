"""Wires routing together. Routing keeps the users, so it alone signs tokens."""
import logging
import os
from pathlib import Path

from services.routing import api, seed, streams
from xinfang.runtime import ServiceRuntime
from xinfang.security import TokenIssuer, signing_key_from_env
from xinfang.web import create_app

log = logging.getLogger("xinfang.routing")
MIGRATIONS = Path(__file__).parent / "migrations"


def build(**overrides):
    # routing records the staff revocations it publishes itself, in the same transaction
    runtime = ServiceRuntime("routing", migrations=MIGRATIONS, subscriptions=streams.subscriptions(),
                             revocations_from_routing=False, **overrides)
    if os.environ.get("XINFANG_DEMO", "").lower() in ("1", "true", "yes"):
        if seed.seed_demo(runtime.db):
            log.info("seeded the DEMO county (示范县) and the demo users")
    issuer = TokenIssuer(signing_key_from_env())
    app = create_app(runtime, title="Xinfang routing 交办转送",
                     description="Who handles a case: assignment, forwarding, signing for, objections; "
                                 "the organisation; sign-in")
    app.include_router(api.router(runtime, issuer))
    return app, runtime

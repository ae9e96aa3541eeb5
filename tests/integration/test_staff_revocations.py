"""Every service keeps the latest revocation of each staff member's tokens, whatever order and how
often Kafka delivers them, on SQLite and PostgreSQL; routing records it with the event it
publishes, in the transaction that disabled the account."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import migrated
from xinfang import staff
from xinfang.contracts import new_envelope
from xinfang.contracts.events import StaffAccessRevoked
from xinfang.storage import UnitOfWork
from xinfang.storage.tables import outbox

SERVICES = Path(__file__).resolve().parents[2] / "services"
T0 = datetime(2026, 11, 24, 5, tzinfo=UTC)


def revoked(user: str, at: datetime):
    env = new_envelope(StaffAccessRevoked(username=user, reason="disabled"), case_id=f"staff:{user}",
                       office="999901001000", actor="system:cli", producer="routing")
    return env.model_copy(update={"occurred_at": at})


def apply(db, env):
    with UnitOfWork(db) as uow:
        staff.on_access_revoked(uow, env)


class RevocationContract:
    def test_the_latest_revocation_holds_whatever_the_order_and_the_redeliveries(self, db):
        lookup = staff.revoked_at(db)
        assert lookup("clerk-1") is None
        later, earlier = revoked("clerk-1", T0 + timedelta(hours=1)), revoked("clerk-1", T0)
        for env in (later, earlier, later):
            apply(db, env)
        assert lookup("clerk-1") == T0 + timedelta(hours=1)
        assert lookup("clerk-2") is None

    def test_routing_disables_publishes_and_records_in_one_transaction(self, routing_db):
        from services.routing import seed
        from services.routing import staff as accounts
        seed.seed_demo(routing_db)
        accounts.set_active(routing_db, "demo-clerk", False)
        at = staff.revoked_at(routing_db)("demo-clerk")
        assert at is not None
        with routing_db.engine.connect() as c:
            bodies = c.execute(sa.select(outbox.c.body).where(outbox.c.key == "staff:demo-clerk")).scalars().all()
        assert len(bodies) == 1 and '"StaffAccessRevoked"' in bodies[0] and '"demo-clerk"' in bodies[0]
        accounts.set_active(routing_db, "demo-clerk", True)  # enabled again: the old tokens stay ended
        assert staff.revoked_at(routing_db)("demo-clerk") == at


class TestSQLite(RevocationContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'intake.db'}", SERVICES / "intake" / "migrations") as d:
            yield d

    @pytest.fixture
    def routing_db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'routing.db'}", SERVICES / "routing" / "migrations") as d:
            yield d


@pytest.mark.postgres
class TestPostgres(RevocationContract):
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, SERVICES / "supervision" / "migrations") as d:
            yield d

    @pytest.fixture
    def routing_db(self, other_pg_url):
        with migrated(other_pg_url, SERVICES / "routing" / "migrations") as d:
            yield d

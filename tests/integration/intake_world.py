"""What intake's integration tests set up alike: its database on each backend (mix
``IntakeOnSQLite`` / ``IntakeOnPostgres`` in front of a contract class), a village routing has
told intake of, and a registration of one petitioner as the API would pass it (a petitioner id
of its own each time)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.intake import domain, projections
from tests.conftest import migrated
from xinfang.contracts import new_envelope
from xinfang.contracts.events import DivisionAdded
from xinfang.storage import UnitOfWork

T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "intake" / "migrations"


class IntakeOnSQLite:
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'intake.db'}", MIGRATIONS) as d:
            yield d


class IntakeOnPostgres:
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d


def known_village(db, code: str = "999901001001") -> None:
    """Routing's DivisionAdded for a village, applied by intake's projection."""
    env = new_envelope(DivisionAdded(code=code, name="村", level="village"), case_id="",
                       office=code[:9] + "000", actor="admin", producer="routing", occurred_at=T0)
    with UnitOfWork(db) as uow:
        projections.on_routing_event(uow, env)


def petition(id_number: str = "110101199003071233", *, category: str = "0702", days: int = 0,
             division: str = "999901001001", summary: str = "拖欠工资", name: str = "张三",
             phone: str | None = None, address: str = "") -> domain.RegisterPetition:
    return domain.RegisterPetition(domain.Registration(
        channel="letter", received_at=T0 + timedelta(days=days), headcount=1, purpose="appeal",
        category_code=category, division_code=division, summary=summary, request="请求处理",
        petitioners=[domain.PetitionerDetails(str(uuid.uuid4()), name, "resident_id", id_number, phone, address)]))

"""Intake's case list on every backend: paging walks the whole list once, newest registration first,
and a township's clerk pages through their own township's cases only."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.intake import handlers
from services.intake.adapters import cases
from tests.conftest import migrated
from xinfang.security import Principal

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "intake" / "migrations"
COUNTY = Principal("county-admin", "admin", "999901000000")
TOWNSHIP_A = Principal("clerk-a", "clerk", "999901001000")
T0 = datetime(2025, 3, 1, 1, tzinfo=UTC)


def case_row(i: int) -> dict:
    # every third pair of cases shares its registration instant: the order must still be total
    at = T0 + timedelta(minutes=i // 2)
    office = "999901001000" if i % 3 else "999901002000"
    return dict(case_id=f"C-{i:05d}", tracking_code=f"T{i:09d}", status="registered", office=office,
                division_code=office[:9] + "001", category_code="0702", channel="online", purpose="appeal",
                headcount=1, summary=f"事项 {i}", request="", received_at=at, registered_at=at, unit_id=None,
                version=1, flags="first_petition", repeat_of=None, final=False, updated_at=None,
                owner_leader=None, co_unit_ids="")


def walk(db, user, limit: int) -> tuple[list[str], set[int]]:
    seen, totals, offset = [], set(), 0
    while True:
        page = handlers.list_cases(db, user, limit=limit, offset=offset)
        totals.add(page["total"])
        seen += [c["case_id"] for c in page["items"]]
        if len(page["items"]) < limit:
            return seen, totals
        offset += limit


class CaseListContract:
    N = 137

    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture
    def stored(self, db):
        rows = [case_row(i) for i in range(self.N)]
        with db.engine.begin() as c:
            c.execute(cases.insert(), rows)
        return rows

    def test_paging_walks_every_case_once_newest_first(self, db, stored):
        seen, totals = walk(db, COUNTY, limit=20)
        assert totals == {self.N}
        assert len(seen) == len(set(seen)) == self.N
        expected = sorted(stored, key=lambda r: (r["registered_at"], r["case_id"]), reverse=True)
        assert seen == [r["case_id"] for r in expected]

    def test_a_townships_pages_hold_only_its_cases(self, db, stored):
        seen, totals = walk(db, TOWNSHIP_A, limit=20)
        mine = [r["case_id"] for r in stored if r["office"] == "999901001000"]
        assert totals == {len(mine)}
        assert sorted(seen) == sorted(mine)

    def test_a_page_past_the_end_is_empty_and_still_counts(self, db, stored):
        page = handlers.list_cases(db, COUNTY, limit=20, offset=10_000)
        assert page["items"] == [] and page["total"] == self.N


class TestCaseListOnSQLite(CaseListContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'intake.db'}", MIGRATIONS) as d:
            yield d


class TestCaseListOnPostgres(CaseListContract):
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d

"""Repeat detection on every backend, with a petitioner's history in the store: the flags and the
earlier case named come from the same-category cases alone, the latest one named, a final one
making the matter final, an open one making it pending elsewhere."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake import handlers
from services.intake.adapters import cases
from tests.integration.intake_world import IntakeOnPostgres, IntakeOnSQLite, known_village, petition
from xinfang.privacy import PiiVault
from xinfang.security import Principal

CLERK = Principal("county-clerk", "clerk", "999901000000")
VAULT = PiiVault("the PII key of the repeat test, 32+ chars")
T0 = datetime(2025, 3, 2, 1, tzinfo=UTC)


def register(db, category: str, days: int, id_number: str = "110101199003071233") -> dict:
    return handlers.register_petition(db, VAULT, CLERK, petition(id_number, category=category, days=days))


def set_row(db, case_id: str, **values) -> None:
    with db.engine.begin() as c:
        c.execute(cases.update().where(cases.c.case_id == case_id).values(**values))


class RepeatContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def village(self, db):
        known_village(db)

    def test_the_latest_same_category_case_is_named_and_others_do_not_count(self, db):
        first = register(db, "0702", 0)
        assert first["flags"][0] == "first_petition"
        other_matter = register(db, "0301", 1)            # another category: a first petition too
        assert "first_petition" in other_matter["flags"]
        second = register(db, "0702", 2)
        set_row(db, first["case_id"], status="closed")
        set_row(db, second["case_id"], status="closed")
        for i in range(5):                                 # more of the other matter: they change nothing
            register(db, "0301", 3 + i)
        third = register(db, "0702", 10)
        assert "repeat" in third["flags"] and third["repeat_of"] == second["case_id"]
        assert "pending_elsewhere" not in third["flags"] and "final_matter" not in third["flags"]

    def test_an_open_case_makes_it_pending_and_a_final_one_final(self, db):
        first = register(db, "0702", 0)
        set_row(db, first["case_id"], status="closed")
        register(db, "0702", 1)                            # left open
        later = register(db, "0702", 2)
        set_row(db, later["case_id"], status="closed")     # the latest is closed, an older one still open
        assert "pending_elsewhere" in register(db, "0702", 3)["flags"]
        set_row(db, first["case_id"], final=True)          # the oldest was re-reviewed: final
        final = register(db, "0702", 4)
        assert "final_matter" in final["flags"] and "pending_elsewhere" not in final["flags"]
        assert final["notice"]
        # another person's history is not theirs
        assert register(db, "0702", 5, id_number="11010519491231002X")["flags"][0] == "first_petition"


class TestRepeatOnSQLite(IntakeOnSQLite, RepeatContract):
    pass


class TestRepeatOnPostgres(IntakeOnPostgres, RepeatContract):
    pass

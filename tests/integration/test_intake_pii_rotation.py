"""Rotating the PII key on every backend: while intake holds the new key and the old one, what the
old key wrote still reads and still matches a repeat petition; `rotate_pii_key` rewrites every row
under the new key, once, after which the old key can be dropped and nothing is lost."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.intake import handlers, views
from services.intake.adapters import petitioners
from tests.integration.intake_world import IntakeOnPostgres, IntakeOnSQLite, known_village, petition
from xinfang.privacy import PiiVault
from xinfang.security import Principal

CLERK = Principal("county-clerk", "clerk", "999901000000")
OLD, NEW = "the old PII key of the county, 32+ chars", "the new PII key of the county, 32+ chars"
T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)


def register(db, vault: PiiVault, id_number: str, phone: str | None = "13912345678") -> dict:
    return handlers.register_petition(db, vault, CLERK, petition(id_number, phone=phone, address="示范县某村"))


def ids(n: int) -> list[str]:
    from xinfang.privacy import resident_id_check_char

    bodies = [f"11010119900307{i:03d}" for i in range(n)]
    return [b + resident_id_check_char(b) for b in bodies]


class PiiRotationContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture
    def old_cases(self, db):
        known_village(db)
        return [register(db, PiiVault(OLD), n) for n in ids(7)]

    def test_during_the_rotation_old_rows_read_and_match_and_new_rows_take_the_new_key(self, db, old_cases):
        ring = PiiVault(NEW, [OLD])
        first = views.get_case(db, ring, CLERK, old_cases[0]["case_id"])["petitioners"][0]
        assert first["id_number"] == ids(7)[0] and first["phone"] == "13912345678"
        again = register(db, ring, ids(7)[0], phone="13800000001")
        assert again["repeat_of"] == old_cases[0]["case_id"]  # matched through the old key's hash
        assert handlers.pii_keys_in_use(db, ring) == {"current": 1, "previous": 7, "unknown": 0}

    def test_rotation_rewrites_every_row_once_and_the_old_key_can_then_go(self, db, old_cases):
        ring = PiiVault(NEW, [OLD])
        with db.engine.begin() as c:  # rows written before key ids were kept say nothing of their key
            c.execute(petitioners.update().where(petitioners.c.case_id.in_([x["case_id"] for x in old_cases[:3]]))
                      .values(pii_key_id=None))
        assert handlers.pii_keys_in_use(db, ring) == {"current": 0, "previous": 4, "unknown": 3}
        seen: list[int] = []
        out = handlers.rotate_pii_key(db, ring, batch=3, progress=seen.append)
        assert (out.rewritten, out.unreadable, out.changed_meanwhile) == (7, [], 0)
        assert sum(seen) == 7 and max(seen) <= 3
        assert handlers.rotate_pii_key(db, ring).rewritten == 0  # a rerun finds nothing left
        only_new = PiiVault(NEW)
        assert handlers.pii_keys_in_use(db, only_new) == {"current": 7, "previous": 0, "unknown": 0}
        for case, number in zip(old_cases, ids(7), strict=True):
            p = views.get_case(db, only_new, CLERK, case["case_id"])["petitioners"][0]
            assert (p["id_number"], p["phone"], p["address"]) == (number, "13912345678", "示范县某村")
        # repeat detection with the new key alone still finds the earlier case
        assert register(db, only_new, ids(7)[3], phone=None)["repeat_of"] == old_cases[3]["case_id"]
        with db.read() as c:
            stored = [r.id_number_enc for r in c.execute(sa.select(petitioners.c.id_number_enc))]
        assert all(number not in " ".join(stored) for number in ids(7))

    def test_a_row_no_key_of_the_ring_reads_is_reported_and_left_as_it_was(self, db, old_cases):
        stranger = register(db, PiiVault("a key nobody kept, long enough to pass"), ids(9)[8])
        ring = PiiVault(NEW, [OLD])
        with db.read() as c:
            before = c.execute(sa.select(petitioners).where(petitioners.c.case_id == stranger["case_id"])).one()
        out = handlers.rotate_pii_key(db, ring)
        assert out.rewritten == 7 and out.unreadable == [before.petitioner_id]
        with db.read() as c:
            after = c.execute(sa.select(petitioners).where(petitioners.c.case_id == stranger["case_id"])).one()
        assert after == before
        assert handlers.pii_keys_in_use(db, ring)["unknown"] == 1


class TestPiiRotationOnSQLite(IntakeOnSQLite, PiiRotationContract):
    pass


class TestPiiRotationOnPostgres(IntakeOnPostgres, PiiRotationContract):
    pass

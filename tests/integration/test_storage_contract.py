"""One contract for the storage kernel, run against every backend (SQLite file, PostgreSQL).

The event store refuses a write made on a stale version; events and their outbox rows commit
or vanish together; the inbox makes a redelivered event a no-op.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import migrated
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAssigned
from xinfang.storage import AlreadyApplied, ConcurrencyConflict, Database, ReadView, UnitOfWork, recovery
from xinfang.storage.sets import one_of
from xinfang.storage.tables import events, inbox, outbox, positions

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "routing" / "migrations"


def assigned(case_id: str, unit: str = "u-1"):
    return new_envelope(CaseAssigned(unit_id=unit), case_id=case_id, office="999901001000",
                        actor="test", producer="routing")


def count(db: Database, table) -> int:
    with db.engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(table)).scalar()


class StorageContract:
    """Subclassed once per backend; ``db`` is a migrated, empty service database."""

    @pytest.fixture
    def db(self):
        raise NotImplementedError

    def test_a_reader_sees_the_last_commit_while_a_writer_holds_its_transaction(self, db):
        with UnitOfWork(db) as uow:
            uow.append("r1", 0, [assigned("r1", "a")])
        writing, read_done = threading.Event(), threading.Event()
        seen: list = []

        def writer():
            with UnitOfWork(db) as uow:
                uow.append("r1", 1, [assigned("r1", "b")])
                writing.set()
                read_done.wait(30)   # the write stays open until the reader has finished

        t = threading.Thread(target=writer)
        t.start()
        assert writing.wait(30)
        with ReadView(db) as view:
            seen = [e.payload["unit_id"] for e in view.load("r1")]
        read_done.set()
        t.join()
        assert seen == ["a"]        # the committed state, not the open write, and not blocked by it
        with ReadView(db) as view:
            assert [e.payload["unit_id"] for e in view.load("r1")] == ["a", "b"]

    def test_appended_events_load_back_in_order_with_versions(self, db):
        with UnitOfWork(db) as uow:
            uow.append("c1", 0, [assigned("c1", "a"), assigned("c1", "b")])
        with UnitOfWork(db) as uow:
            uow.append("c1", 2, [assigned("c1", "c")])
            loaded = uow.load("c1")
        assert [e.payload["unit_id"] for e in loaded] == ["a", "b", "c"]
        assert [e.stream_version for e in loaded] == [1, 2, 3]
        assert all(e.recorded_at.tzinfo is not None for e in loaded)

    def test_a_write_on_a_stale_version_is_refused_and_leaves_nothing(self, db):
        with UnitOfWork(db) as uow:
            uow.append("c1", 0, [assigned("c1")])
        with pytest.raises(ConcurrencyConflict) as err:
            with UnitOfWork(db) as uow:
                uow.append("c1", 0, [assigned("c1", "late")])
        assert (err.value.expected, err.value.actual) == (0, 1)
        assert count(db, events) == 1 and count(db, outbox) == 1

    def test_two_concurrent_writers_on_one_version_exactly_one_wins(self, db):
        # both read version 0 before either writes; SQLite serialises writers at BEGIN, so there
        # the second one waits for the lock instead and then finds version 1
        barrier = threading.Barrier(1 if db.dialect == "sqlite" else 2)
        results: list[str] = []

        def write(unit):
            try:
                with UnitOfWork(db) as uow:
                    uow.stream_version("race")
                    barrier.wait(5)
                    uow.append("race", 0, [assigned("race", unit)])
                results.append("ok")
            except ConcurrencyConflict:
                results.append("conflict")

        threads = [threading.Thread(target=write, args=(u,)) for u in ("x", "y")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert sorted(results) == ["conflict", "ok"]
        assert count(db, events) == 1

    def test_an_append_at_the_head_follows_whatever_the_stream_holds(self, db):
        with UnitOfWork(db) as uow:
            uow.append("h1", 0, [assigned("h1", "a")])
        with UnitOfWork(db) as uow:
            stored = uow.append("h1", None, [assigned("h1", "b"), assigned("h1", "c")])
        assert [e.stream_version for e in stored] == [2, 3]
        with UnitOfWork(db) as uow:
            uow.append("h2", None, [assigned("h2", "a")])  # a new stream starts at 1
        with ReadView(db) as view:
            assert [(e.payload["unit_id"], e.stream_version) for e in view.load("h1")] == [("a", 1), ("b", 2), ("c", 3)]
            assert [e.stream_version for e in view.load("h2")] == [1]
        assert count(db, outbox) == 4

    def test_each_event_is_queued_in_the_outbox_in_the_same_transaction(self, db):
        with UnitOfWork(db) as uow:
            stored = uow.append("c1", 0, [assigned("c1"), assigned("c1")])
        with db.engine.connect() as c:
            rows = c.execute(sa.select(outbox).order_by(outbox.c.id)).mappings().all()
        assert [r["event_id"] for r in rows] == [e.event_id for e in stored]
        assert {r["topic"] for r in rows} == {"xinfang.routing.events"}
        assert all(r["key"] == "c1" and r["published_at"] is None for r in rows)

    def test_a_failed_transaction_leaves_neither_event_nor_outbox_row(self, db):
        with pytest.raises(RuntimeError):
            with UnitOfWork(db) as uow:
                uow.append("c1", 0, [assigned("c1")])
                raise RuntimeError("the effect failed")
        assert count(db, events) == 0 and count(db, outbox) == 0

    def test_the_inbox_makes_redelivery_a_no_op(self, db):
        env = assigned("c1")
        with UnitOfWork(db) as uow:
            uow.mark_applied("reporting", env, "t", 0, 7)
        with pytest.raises(AlreadyApplied):
            with UnitOfWork(db) as uow:
                uow.mark_applied("reporting", env, "t", 0, 7)
        with UnitOfWork(db) as uow:  # another consumer applies the same event independently
            uow.mark_applied("other", env, "t", 0, 7)
        assert count(db, inbox) == 2

    def test_an_effect_that_fails_does_not_mark_the_event_applied(self, db):
        env = assigned("c1")
        with pytest.raises(RuntimeError):
            with UnitOfWork(db) as uow:
                uow.mark_applied("reporting", env, "t", 0, 1)
                raise RuntimeError("projection failed")
        with UnitOfWork(db) as uow:
            assert not uow.is_applied("reporting", env.event_id)

    def test_positions_only_move_forward(self, db):
        with UnitOfWork(db) as uow:
            uow.mark_applied("r", assigned("a"), "t", 3, 10)
            uow.mark_applied("r", assigned("b"), "t", 3, 4)   # a redelivered older message
            uow.mark_applied("r", assigned("c"), "t", 1, 2)
        with db.engine.connect() as c:
            got = {(r.partition): r.offset for r in c.execute(sa.select(positions))}
        assert got == {3: 10, 1: 2}

    def test_one_of_many_finds_exactly_those_ids_whatever_they_hold(self, db):
        """Batched reads ask "one of these ids" (xinfang.storage.sets): on PostgreSQL one array
        written out as text, on SQLite chunks of IN; quotes, backslashes, commas and braces stay
        themselves."""
        odd = ['plain', 'with "quote"', 'back\\slash', 'a,b', '{brace}', 'NULL', ' spaced ', '信访']
        many = odd + [f"c-{i:05d}" for i in range(1200)]  # more than one SQLite chunk
        with UnitOfWork(db) as uow:
            for case in many + ["not-asked", "null"]:
                uow.append(case, 0, [assigned(case)])
        found = []
        with db.engine.connect() as c:
            for cond in one_of(c, events.c.stream_id, many):
                found += c.execute(sa.select(events.c.stream_id).where(cond)).scalars().all()
        assert sorted(found) == sorted(many)

    def test_migrations_run_twice_change_nothing(self, db):
        db.migrate(MIGRATIONS)
        with UnitOfWork(db) as uow:
            uow.append("c1", 0, [assigned("c1")])
        assert count(db, events) == 1


    # ---- after a restore (xinfang.storage.recovery): events published before come back once

    def _staged(self, db, *envs):
        with db.engine.begin() as c:
            recovery.ensure_table(c)
            return recovery.stage(c, envs)

    def test_a_reaction_made_again_after_a_restore_is_the_published_one_not_a_new_event(self, db):
        cause = assigned("cause")
        first = new_envelope(CaseAssigned(unit_id="u-7"), case_id="c9", office="999901001000", actor="test",
                             producer="routing", causation=cause)
        assert self._staged(db, first) == 1
        assert self._staged(db, first) == 0  # staged once
        db.recovering = True
        try:
            with UnitOfWork(db) as uow:
                again = new_envelope(CaseAssigned(unit_id="u-7"), case_id="c9", office="999901001000",
                                     actor="test", producer="routing", causation=cause)
                [stored] = uow.append("c9", 0, [again])
                other = uow.append("c10", 0, [assigned("c10")])  # nothing staged for it: a new event
        finally:
            db.recovering = False
        assert stored.event_id == first.event_id and stored.recorded_at == first.recorded_at
        with ReadView(db) as view:
            assert [e.event_id for e in view.load("c9")] == [first.event_id]
            assert view.execute(sa.select(outbox.c.event_id)).scalars().all() == [other[0].event_id]
            assert recovery.left(view.conn) == 0

    def test_the_same_fact_from_another_cause_is_the_published_one(self, db):
        staged = new_envelope(CaseAssigned(unit_id="u-7"), case_id="c9", office="999901001000", actor="test",
                              producer="routing", causation=assigned("registration"))
        self._staged(db, staged)
        db.recovering = True
        try:
            with UnitOfWork(db) as uow:
                # heard in another order: caused by another event, the same payload
                [stored] = uow.append("c9", 0, [new_envelope(
                    CaseAssigned(unit_id="u-7"), case_id="c9", office="999901001000", actor="test",
                    producer="routing", causation=assigned("assignment"))])
                [different] = uow.append("c9", 1, [new_envelope(
                    CaseAssigned(unit_id="u-8"), case_id="c9", office="999901001000", actor="test",
                    producer="routing")])
        finally:
            db.recovering = False
        assert stored.event_id == staged.event_id
        assert count(db, outbox) == 1  # another fact is a new event
        assert different.event_id != staged.event_id

    def test_a_staged_event_stored_again_keeps_its_id_and_times_and_goes_to_no_outbox(self, db):
        with UnitOfWork(db) as uow:
            uow.append("c1", 0, [assigned("c1", "a")])
        staged = assigned("c1", "b")
        self._staged(db, staged)
        with UnitOfWork(db) as uow:
            stored = uow.append_recorded(staged)
        assert (stored.event_id, stored.stream_version, stored.recorded_at) == (staged.event_id, 2, staged.recorded_at)
        with ReadView(db) as view:
            assert [e.payload["unit_id"] for e in view.load("c1")] == ["a", "b"]
            assert recovery.left(view.conn) == 0
        assert count(db, outbox) == 1  # the first append's only
        assert self._staged(db, staged) == 0  # in the store now: never staged again


    # ---- append-only: a stored event is never edited (xinfang.storage.migrations.events_append_only_v3)

    @pytest.mark.parametrize("change", ["UPDATE events SET body = '{}' WHERE stream_id = 'c1'",
                                        "DELETE FROM events WHERE stream_id = 'c1'"])
    def test_a_stored_event_cannot_be_edited_or_deleted_by_the_services_role(self, db, change):
        with UnitOfWork(db) as uow:
            [stored] = uow.append("c1", 0, [assigned("c1", "a")])
        with pytest.raises(sa.exc.DBAPIError) as refused:
            with db.engine.begin() as c:
                c.exec_driver_sql(change)
        assert "append-only" in str(refused.value)
        with ReadView(db) as view:
            assert [(e.event_id, e.payload["unit_id"]) for e in view.load("c1")] == [(stored.event_id, "a")]


class TestSQLite(StorageContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'routing.db'}", MIGRATIONS) as d:
            yield d


@pytest.mark.postgres
class TestPostgres(StorageContract):
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d

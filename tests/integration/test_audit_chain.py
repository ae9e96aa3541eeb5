"""The hash chain over every service's events, on each backend: a store nobody touched verifies;
an event edited, deleted from the middle, or two events swapped, each by a database administrator
going around the append-only triggers, is reported by the verifier at the position it happened."""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import migrated
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAssigned
from xinfang.storage import Database, UnitOfWork, chain
from xinfang.storage.tables import events

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "routing" / "migrations"


def assigned(case_id: str, unit: str = "u-1"):
    return new_envelope(CaseAssigned(unit_id=unit), case_id=case_id, office="999901001000",
                        actor="test", producer="routing")


def fill(db: Database, cases: int = 12) -> list[int]:
    """Three events per case, one case per transaction; the positions in order."""
    for i in range(cases):
        with UnitOfWork(db) as uow:
            uow.append(f"c{i}", 0, [assigned(f"c{i}", u) for u in ("a", "b", "c")])
    with db.engine.connect() as c:
        return c.execute(sa.select(events.c.position).order_by(events.c.position)).scalars().all()


def verdict(db: Database) -> chain.Verdict:
    with db.engine.connect() as c:
        return chain.verify(c)


class AuditChainContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    def tamper(self, db: Database, sql: str, **params) -> None:
        """As a database administrator would: around the append-only triggers."""
        raise NotImplementedError

    def test_an_untouched_store_verifies_and_links_every_event_once(self, db):
        positions = fill(db)
        v = verdict(db)
        assert v.ok, v.findings
        assert v.size == len(positions) == 36
        with db.engine.connect() as c:
            assert chain.head(c) == (36, v.head)

    def test_concurrent_appends_make_one_chain_not_a_fork(self, db):
        def writer(k):
            for i in range(10):
                with UnitOfWork(db) as uow:
                    uow.append(f"w{k}-{i}", 0, [assigned(f"w{k}-{i}")])
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        v = verdict(db)
        assert v.ok, v.findings
        assert v.size == 40

    def test_a_rolled_back_append_leaves_no_link(self, db):
        fill(db, 2)
        with UnitOfWork(db) as uow:
            uow.append("kept", 0, [assigned("kept")])
            try:
                with uow.conn.begin_nested():
                    uow.append("lost", 0, [assigned("lost")])
                    raise RuntimeError("the handler failed")
            except RuntimeError:
                pass
        v = verdict(db)
        assert v.ok, v.findings
        assert v.size == 7

    def test_an_edited_payload_is_reported_at_its_position(self, db):
        positions = fill(db)
        target = positions[17]
        self.tamper(db, "UPDATE events SET body = replace(body, '\"unit_id\":\"c\"', '\"unit_id\":\"x\"') "
                        "WHERE position = :p", p=target)
        v = verdict(db)
        assert not v.ok
        assert v.first.position == target and v.first.seq == 18
        assert len(v.findings) == 1  # one edit, one finding: the walk goes on from the stored hash

    def test_an_edited_column_is_reported_too(self, db):
        positions = fill(db)
        self.tamper(db, "UPDATE events SET case_id = 'other' WHERE position = :p", p=positions[5])
        assert verdict(db).first.position == positions[5]

    def test_an_event_deleted_from_the_middle_is_reported(self, db):
        positions = fill(db)
        self.tamper(db, "DELETE FROM events WHERE position = :p", p=positions[20])
        v = verdict(db)
        assert v.first.seq == 21 and v.first.position == positions[20]
        assert "deleted" in v.first.what

    def test_an_event_deleted_with_its_link_is_reported_at_the_next(self, db):
        positions = fill(db)
        self.tamper(db, "DELETE FROM event_chain WHERE position = :p", p=positions[20])
        self.tamper(db, "DELETE FROM events WHERE position = :p", p=positions[20])
        v = verdict(db)
        assert v.first.seq == 21

    def test_two_events_swapped_are_reported_at_the_first(self, db):
        positions = fill(db)
        a, b = positions[9], positions[14]
        with db.engine.connect() as c:
            body_a, body_b = (c.execute(sa.select(events.c.body).where(events.c.position == p)).scalar()
                              for p in (a, b))
        self.tamper(db, "UPDATE events SET body = :b WHERE position = :p", b=body_b, p=a)
        self.tamper(db, "UPDATE events SET body = :b WHERE position = :p", b=body_a, p=b)
        v = verdict(db)
        assert v.first.position == a
        assert [f.position for f in v.findings] == [a, b]

    def test_an_event_inserted_around_the_store_is_reported(self, db):
        fill(db, 2)
        with db.engine.begin() as c:
            c.execute(events.insert(), dict(event_id="x" * 36, stream_id="s", version=1, event_type="CaseAssigned",
                                            schema_version=1, case_id="s", occurred_at=datetime.now(UTC),
                                            recorded_at=datetime.now(UTC), body="{}"))
        assert "not in the chain" in verdict(db).first.what


class TestSQLite(AuditChainContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'routing.db'}", MIGRATIONS) as d:
            yield d

    def tamper(self, db, sql, **params):
        with db.engine.begin() as c:
            for t in ("events_append_only_update", "events_append_only_delete",
                      "event_chain_append_only_update", "event_chain_append_only_delete"):
                c.exec_driver_sql(f"DROP TRIGGER IF EXISTS {t}")
            c.execute(sa.text(sql), params)


@pytest.mark.postgres
class TestPostgres(AuditChainContract):
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d

    def tamper(self, db, sql, **params):
        with db.engine.begin() as c:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")  # a superuser skips triggers
            c.execute(sa.text(sql), params)

"""The hash chain over every service's events, on each backend: a store nobody touched verifies;
an event edited, deleted from the middle, or two events swapped, each by a database administrator
going around the append-only triggers, is reported by the verifier at the position it happened.
The newest events deleted with their links, and a chain rewritten from an edit on, are reported
through the signed checkpoints another service's database holds."""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import migrated
from xinfang import checkpointing
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAssigned
from xinfang.storage import Database, UnitOfWork, chain, checkpoints
from xinfang.storage.tables import event_chain, events
from xinfang.storage.unit_of_work import load_stream

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "routing" / "migrations"
HOLDER_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "supervision" / "migrations"
KEY = Ed25519PrivateKey.generate()


def assigned(case_id: str, unit: str = "u-1"):
    return new_envelope(CaseAssigned(unit_id=unit), case_id=case_id, office="999901001000",
                        actor="test", producer="routing")


def fill(db: Database, cases: int = 12, prefix: str = "c") -> list[int]:
    """Three events per case, one case per transaction; the positions in order."""
    for i in range(cases):
        with UnitOfWork(db) as uow:
            uow.append(f"{prefix}{i}", 0, [assigned(f"{prefix}{i}", u) for u in ("a", "b", "c")])
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


    # ------------------------------------------------------------ signed checkpoints, held elsewhere

    def sign_and_deliver(self, db: Database, holder: Database) -> checkpoints.Checkpoint:
        """routing signs its chain's head; supervision keeps the checkpoint as its consumer does
        (the journey over Kafka: tests/e2e/test_audit_checkpoints.py)."""
        cp = checkpointing.sign(db, "routing", KEY)
        assert cp is not None
        with db.engine.connect() as c:
            env = load_stream(c, checkpointing.stream_of("routing"))[-1]
        with UnitOfWork(holder) as uow:
            checkpointing.on_checkpoint(uow, env)
            checkpointing.on_checkpoint(uow, env)  # a redelivery changes nothing
        return cp

    def checked(self, db: Database, holder: Database, trusted=None) -> list:
        with holder.engine.connect() as c:
            kept = [(cp, "supervision") for cp in checkpoints.held(c)]
        with db.engine.connect() as c:
            v = chain.verify(c, heads_at={cp.size for cp, _ in kept})
        return v.findings + checkpoints.check("routing", v, v.heads, kept,
                                              checkpoints.public_bytes(trusted or KEY))

    def test_a_checkpoint_covers_the_chain_and_is_itself_linked(self, db, holder):
        fill(db, 4)
        cp = self.sign_and_deliver(db, holder)
        assert cp.size == 12 and cp.signature_ok()
        assert checkpointing.sign(db, "routing", KEY) is None  # nothing new since: nothing signed
        fill(db, 1, prefix="later")
        self.sign_and_deliver(db, holder)
        with holder.engine.connect() as c:
            assert [k.size for k in checkpoints.held(c)] == [12, 16]  # 12 + its own event + 3
        assert self.checked(db, holder) == []

    def test_the_newest_events_deleted_with_their_links_are_reported_through_the_checkpoint(self, db, holder):
        fill(db, 6)
        cp = self.sign_and_deliver(db, holder)
        with db.engine.connect() as c:
            newest = c.execute(sa.select(event_chain.c.position).where(event_chain.c.seq > 14)).scalars().all()
        for p in newest:  # the last links, the checkpoint's own event among them
            self.tamper(db, "DELETE FROM event_chain WHERE position = :p", p=p)
            self.tamper(db, "DELETE FROM events WHERE position = :p", p=p)
        assert verdict(db).ok  # the chain alone cannot see it
        found = self.checked(db, holder)
        assert len(found) == 1 and found[0].seq == 15
        assert f"links 15–{cp.size} are missing" in found[0].what and "supervision" in found[0].what

    def test_a_service_never_signs_a_chain_shorter_than_one_it_signed(self, db, holder):
        fill(db, 2)
        cp = self.sign_and_deliver(db, holder)
        fill(db, 1, prefix="later")
        with pytest.raises(checkpointing.ChainShrank, match="newest events were deleted"):
            checkpointing.sign(db, "routing", KEY, floor=cp.size + 10)

    def test_a_chain_rewritten_from_an_edit_on_is_reported_through_the_checkpoint(self, db, holder):
        positions = fill(db, 6)
        self.sign_and_deliver(db, holder)
        self.tamper(db, "UPDATE events SET body = replace(body, '\"unit_id\":\"b\"', '\"unit_id\":\"x\"') "
                        "WHERE position = :p", p=positions[4])
        with db.engine.connect() as c:  # every link from the edit on recomputed, as a careful forger would
            rows = c.execute(sa.select(event_chain.c.seq, *chain._COLUMNS).join(
                events, events.c.position == event_chain.c.position).order_by(event_chain.c.seq)).all()
        previous, fixed = chain.GENESIS, []
        for r in rows:
            previous = chain.link_hash(previous, r[1:])
            fixed.append((r[0], previous))
        for seq, h in fixed[4:]:
            self.tamper(db, "UPDATE event_chain SET hash = :h WHERE seq = :s", h=h, s=seq)
        assert verdict(db).ok
        found = self.checked(db, holder)
        assert [f.seq for f in found] == [18] and "rewritten" in found[0].what

    def test_a_forged_or_foreign_checkpoint_is_reported(self, db, holder):
        fill(db, 3)
        self.sign_and_deliver(db, holder)
        with UnitOfWork(holder) as uow:
            good = checkpoints.held(uow.conn)[0]
            forged = checkpoints.Checkpoint(good.service, good.size + 5, good.head, good.signed_at,
                                            good.key_id, good.public_key, good.signature)
            checkpoints.record(uow.conn, "forged-size", forged)
            other = checkpoints.Checkpoint.signed(Ed25519PrivateKey.generate(), "routing", 3, good.head)
            checkpoints.record(uow.conn, "foreign-key", other)
        found = self.checked(db, holder)
        assert any("signature does not verify" in f.what and f.seq == good.size + 5 for f in found)
        assert any("not routing's" in f.what for f in found)
        assert not any("missing" in f.what for f in found)  # a forged size proves nothing


class TestSQLite(AuditChainContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'routing.db'}", MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def holder(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'supervision.db'}", HOLDER_MIGRATIONS) as d:
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

    @pytest.fixture
    def holder(self, other_pg_url):
        with migrated(other_pg_url, HOLDER_MIGRATIONS) as d:
            yield d

    def tamper(self, db, sql, **params):
        with db.engine.begin() as c:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")  # a superuser skips triggers
            c.execute(sa.text(sql), params)

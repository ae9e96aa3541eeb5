"""The stream runtime's inbox, on every backend: a batch's inbox is read once and written once, and
when another instance of the service recorded one of its events in between (a rebalance hands a
partition over while a batch is in flight), the batch is applied again event by event, so every
event takes effect exactly once."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import migrated
from xinfang.contracts import encode, new_envelope, topic_for
from xinfang.contracts.events import CaseAssigned
from xinfang.messaging.streams import Message, StreamProcessor, Subscription
from xinfang.storage import UnitOfWork
from xinfang.storage.tables import inbox, positions

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "routing" / "migrations"
effects = sa.Table("test_effects", sa.MetaData(), sa.Column("event_id", sa.String(64)))  # no unique key


def record(uow, env):
    uow.execute(effects.insert().values(event_id=env.event_id))


def batch(n: int):
    topic = topic_for("routing")
    out = []
    for i in range(n):
        env = new_envelope(CaseAssigned(unit_id="u"), case_id=f"C{i}", office="999901001000", actor="t",
                           producer="routing")
        out.append((Message(topic, 0, i, None, encode(env)), env))
    return out


def runtime(db, tmp_path, name):
    sub = Subscription(topic_for("routing"), record)
    return StreamProcessor("inbox-test", db, "127.0.0.1:9", [sub], datadir=str(tmp_path / name)), sub


def effect_counts(db) -> dict[str, int]:
    with db.engine.connect() as c:
        return dict(c.execute(sa.select(effects.c.event_id, sa.func.count()).group_by(effects.c.event_id)).all())


class InboxContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def table(self, db):
        effects.create(db.engine)

    def test_a_redelivered_batch_takes_effect_once(self, db, tmp_path):
        items = batch(5)
        sp, sub = runtime(db, tmp_path, "a")
        assert sp._apply_batch(sub, items)[0] == 5
        assert sp._apply_batch(sub, items[2:] + items[:1] + items[:1])[0] == 0
        assert effect_counts(db) == {env.event_id: 1 for _, env in items}
        with db.engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(inbox)).scalar() == 5
            assert c.execute(sa.select(positions.c.offset)).scalar() == 4

    def test_a_batch_raced_by_another_instance_takes_effect_once(self, db, tmp_path, monkeypatch, caplog):
        caplog.set_level("INFO", logger="xinfang.streams")
        items = batch(6)
        other, sub1 = runtime(db, tmp_path, "other")
        assert other._apply_batch(sub1, items[:2])[0] == 2
        # this instance read the inbox before the other one's commit landed: it misses those two
        real = UnitOfWork.applied_among
        calls = []

        def stale_once(self, consumer, ids):
            calls.append(1)
            return set() if len(calls) == 1 else real(self, consumer, ids)
        monkeypatch.setattr(UnitOfWork, "applied_among", stale_once)
        sp, sub2 = runtime(db, tmp_path, "this")
        assert sp._apply_batch(sub2, items) == (4, [], [])
        assert any("applying event by event" in r.getMessage() for r in caplog.records)
        assert effect_counts(db) == {env.event_id: 1 for _, env in items}


class TestInboxOnSQLite(InboxContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'routing.db'}", MIGRATIONS) as d:
            yield d


class TestInboxOnPostgres(InboxContract):
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d

"""Reporting's consumer applies a delivered batch whole (the projection's bulk path) with the same
result as one event at a time: the read model, the inbox, redelivery, and one bad event in a batch.
Run through the real stream runtime's apply step against every backend."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.reporting import streams
from tests.conftest import migrated
from tests.integration.reporting_scenario import march_history
from tests.integration.test_reporting_rebuild import statistics
from xinfang.contracts import encode, topic_for
from xinfang.messaging.streams import Message, StreamProcessor, Subscription
from xinfang.storage import UnitOfWork
from xinfang.storage.tables import inbox

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "reporting" / "migrations"


def processor(db, tmp_path, *, whole: bool) -> tuple[StreamProcessor, dict[str, Subscription]]:
    subs = streams.subscriptions()
    if not whole:
        subs = [Subscription(s.topic, s.handler, s.event_types) for s in subs]
    sp = StreamProcessor("reporting", db, "127.0.0.1:9", subs, datadir=str(tmp_path / "faust"))
    return sp, {s.topic: s for s in subs}


def deliveries(events, seed: int = 7):
    """The events as the three topics deliver them: each topic in order, the topics interleaved."""
    events = list(events)
    random.Random(seed).shuffle(events)
    offsets: dict[str, int] = {}
    out = []
    for env in events:
        topic = topic_for(env.producer)
        offsets[topic] = offsets.get(topic, -1) + 1
        out.append((Message(topic, 0, offsets[topic], env.case_id.encode(), encode(env)), env))
    return out


def apply(sp, subs, items, size: int):
    """In batches of ``size`` per topic, as the agents take them; returns (applied, failed)."""
    applied, failed = 0, []
    by_topic: dict[str, list] = {}
    for m, env in items:
        by_topic.setdefault(m.topic, []).append((m, env))
    for topic, todo in sorted(by_topic.items()):
        for i in range(0, len(todo), size):
            a, f, c = sp._apply_batch(subs[topic], todo[i:i + size])
            assert c == []
            applied += a
            failed += f
    return applied, failed


def one_by_one(caplog) -> int:
    """How many batches fell back from the bulk path to one event at a time."""
    return sum("applied one by one" in r.getMessage() for r in caplog.records)


def inbox_ids(db) -> set[str]:
    with db.engine.connect() as c:
        return set(c.execute(sa.select(inbox.c.event_id).where(inbox.c.consumer == "reporting")).scalars())


class LiveBatchContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture
    def other_db(self):
        raise NotImplementedError

    def test_a_whole_batch_gives_what_one_event_at_a_time_gives(self, db, other_db, tmp_path, caplog):
        caplog.set_level("INFO", logger="xinfang.streams")
        items = deliveries(march_history())
        one, subs1 = processor(other_db, tmp_path / "one", whole=False)
        whole, subs2 = processor(db, tmp_path / "whole", whole=True)
        assert apply(one, subs1, items, size=1) == (len(items), [])
        assert apply(whole, subs2, items, size=50) == (len(items), [])
        assert statistics(db) == statistics(other_db)
        assert inbox_ids(db) == inbox_ids(other_db) == {env.event_id for _, env in items}
        assert one_by_one(caplog) == 0

    def test_a_redelivered_batch_changes_nothing(self, db, tmp_path, caplog):
        caplog.set_level("INFO", logger="xinfang.streams")
        items = deliveries(march_history())
        sp, subs = processor(db, tmp_path, whole=True)
        apply(sp, subs, items, size=50)
        before = statistics(db)
        # redelivered, in other batches, and with duplicates inside one batch
        again = items[5:] + items[:5] + items[:3]
        assert apply(sp, subs, again, size=37) == (0, [])
        assert statistics(db) == before
        assert one_by_one(caplog) == 0

    def test_one_bad_event_is_set_aside_and_the_rest_of_its_batch_applied(self, db, other_db, tmp_path, caplog):
        caplog.set_level("INFO", logger="xinfang.streams")
        items = deliveries(march_history())
        registration = next(i for i, (_, env) in enumerate(items) if env.event_type == "CaseRegistered")
        m, env = items[registration]
        bad = env.model_copy(update={"event_id": "bad-" + env.event_id, "case_id": "BAD1",
                                     "payload": {**env.payload, "received_at": "not a time"}})
        with_bad = items[:registration] + [(m, bad)] + items[registration:]
        sp, subs = processor(db, tmp_path / "whole", whole=True)
        applied, failed = apply(sp, subs, with_bad, size=50)
        assert applied == len(items)
        assert [e.event_id for (_, e), _err in failed] == [bad.event_id]
        assert bad.event_id not in inbox_ids(db)
        assert one_by_one(caplog) == 1  # only the bad event's batch
        one, subs1 = processor(other_db, tmp_path / "one", whole=False)
        apply(one, subs1, items, size=1)
        assert statistics(db) == statistics(other_db)

    def test_a_replay_gives_what_one_event_at_a_time_gives_and_again_adds_nothing(self, db, other_db, tmp_path):
        """projections.replay (bench/replay.py's path): batches written while the next is built,
        the touched cases folded once at the end."""
        from services.reporting import projections

        items = deliveries(march_history())
        one, subs1 = processor(other_db, tmp_path / "one", whole=False)
        apply(one, subs1, items, size=1)
        events = [env for _, env in items]
        with db.engine.connect() as c:
            gen = projections.active_generation(c)
        batches = [events[i:i + 13] for i in range(0, len(events), 13)]
        assert sum(projections.replay(db.engine, batches, gen)) == len(events)
        assert statistics(db) == statistics(other_db)
        assert sum(projections.replay(db.engine, batches[::-1], gen)) == 0
        assert statistics(db) == statistics(other_db)

    def test_text_with_escapes_survives_the_bulk_path(self, db, other_db):
        from services.reporting import projections
        from services.reporting.adapters import report_facts, report_log
        from xinfang.contracts import new_envelope
        from xinfang.contracts.events import CaseAssigned

        odd = 'u\\1\t2\n3\r"四"'
        env = new_envelope(CaseAssigned(unit_id=odd), case_id="ESC1", office="999901001000", actor="t",
                           producer="routing")
        with db.engine.begin() as c:
            projections.apply_many(c, [env])
        with UnitOfWork(other_db) as uow:
            projections.on_event(uow, env)
            uow.commit()
        got = []
        for d in (db, other_db):
            with d.engine.connect() as c:
                got.append((c.execute(sa.select(report_facts.c.unit_id, report_facts.c.occurred_at)).one(),
                            json.loads(c.execute(sa.select(report_log.c.facts)).scalar_one())))
        assert got[0] == got[1]
        assert got[0][0].unit_id == odd and got[0][1]["unit_id"] == odd


class TestLiveBatchesOnSQLite(LiveBatchContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'reporting.db'}", MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def other_db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'reporting-2.db'}", MIGRATIONS) as d:
            yield d


class TestLiveBatchesOnPostgres(LiveBatchContract):
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def other_db(self, other_pg_url):
        with migrated(other_pg_url, MIGRATIONS) as d:
            yield d

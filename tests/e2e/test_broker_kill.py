"""The broker killed in the middle of a stream of registrations posted through the API.

Apache Kafka is SIGKILLed and started again on the same log: intake keeps answering 201 into its
outbox meanwhile, and afterwards every read model holds exactly the cases registered, none lost,
none twice, and no store was published again (the log still had everything). tansu loses its
memory when it dies: there the services are restarted, republish their stores, and recover the same.

``XINFANG_KILL_CASES`` sets the number of registrations (2,000 by default; 10,000 for a long run).
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import PETITION, another_petitioner, running_system
from xinfang.config import SERVICES
from xinfang.contracts import topic_for
from xinfang.messaging.admin import ensure_topics
from xinfang.messaging.profiles import BROKERS

pytestmark = pytest.mark.e2e

N = int(os.environ.get("XINFANG_KILL_CASES", "2000"))
WORKERS = 4  # clerks posting at once


@pytest.fixture(params=BROKERS)
def killable(pg_server, tmp_path, request):
    with running_system(pg_server, tmp_path, request.param, f"test_broker_kill-{request.param}") as s:
        yield s


def _post_all(system, n: int, at: dict[int, callable]) -> list[dict]:
    """n registrations from WORKERS threads, each answer kept. ``at[i]()`` runs on this thread once
    i answers have come: a broker started from a worker thread would get SIGTERM when that thread
    ends (its parent-death signal follows the thread that started it)."""
    headers = system.auth("demo-clerk")
    url = f"{system.url['intake']}/api/v1/petitions"
    answered = itertools.count(1)
    progress = {"n": 0}
    lock = threading.Lock()

    def one(i: int) -> dict:
        with httpx.Client(timeout=30) as http:
            # a different person each time, as a morning's registrations are: one person with
            # thousands of earlier cases would make each repeat check read them all
            r = http.post(url, json={**PETITION, "petitioners": another_petitioner(i), "summary": f"停机登记 {i}"},
                          headers=headers)
        with lock:
            progress["n"] = next(answered)
        return {"i": i, "status": r.status_code, "body": r.json() if r.status_code == 201 else r.text}

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        todo = sorted(at)
        while todo:
            if progress["n"] >= todo[0]:
                at[todo.pop(0)]()
            else:
                time.sleep(0.01)
        return [f.result() for f in futures]


def _topic_records(system, topic: str) -> tuple[int, int]:
    """(records, distinct event ids) on ``topic``, read from the beginning to the end offsets
    (Apache Kafka's end offsets are right; tansu's are not, so this is used on Kafka only)."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=system.stack.bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest")
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
        c.assign(parts)
        c.seek_to_beginning(*parts)
        ends = c.end_offsets(parts)
        records, ids = 0, set()
        deadline = time.monotonic() + 120
        while any(c.position(tp) < ends[tp] for tp in parts) and time.monotonic() < deadline:
            for batch in c.poll(timeout_ms=500, max_records=5000).values():
                for m in batch:
                    records += 1
                    ids.add(dict(m.headers).get("event_id"))
        return records, len(ids)
    finally:
        c.close()


def test_the_broker_killed_mid_stream_loses_and_doubles_nothing(killable):
    system = killable
    kind = system.broker_kind
    kill_at, back_at = N // 4, N // 2
    events: dict[str, float] = {}

    def kill():
        events["killed_at"] = time.monotonic()
        if kind == "kafka":
            system.broker.kill()
        else:
            system.broker.stop()  # tansu: its memory goes with it

    def back():
        events["back_at"] = time.monotonic()
        system.broker.start()  # the same port; for Kafka the same log folder
        if kind == "tansu":
            ensure_topics(system.stack.bootstrap)

    answers = _post_all(system, N, {kill_at: kill, back_at: back})
    refused = [a for a in answers if a["status"] != 201]
    assert not refused, f"{len(refused)} registrations refused while the broker was away, e.g. {refused[:3]}"
    case_ids = {a["body"]["case_id"] for a in answers}
    assert len(case_ids) == N

    if kind == "tansu":
        # the memory broker came back empty: the services publish their stores again on start
        system.stack.env["XINFANG_REPUBLISH_ON_START"] = "1"
        for name in SERVICES:
            system.stack.kill(name)
            system.stack.restart(name, timeout=120)

    def counts():
        s = system.get("reporting", "/api/v1/stats/summary").json()
        return {
            "intake": system.scalar("intake", "SELECT count(DISTINCT case_id) FROM events WHERE event_type='CaseRegistered'"),
            "routing": system.scalar("routing", "SELECT count(*) FROM assignments"),
            "supervision": system.scalar("supervision", "SELECT count(DISTINCT case_id) FROM deadlines"),
            # registration's two clocks and the assignment's two: each case heard on both topics
            "supervision clocks": system.scalar("supervision", "SELECT count(*) FROM deadlines") // 4,
            "reporting registered": s["registered"],
            "reporting assigned": s["assigned"],
        }

    want = {k: N for k in counts()}
    system.wait_for(lambda: counts() == want or False, timeout=max(240, N / 10), what=f"every read model at {N}")
    time.sleep(3)  # anything still redelivered must not change them
    assert counts() == want
    # nothing applied twice: one assignment event per case, four clocks per case
    assert system.scalar("routing", "SELECT count(*) FROM events WHERE event_type='CaseAssigned'") == N
    assert system.scalar("supervision", "SELECT count(*) FROM deadlines") == 4 * N
    for name in ("routing", "supervision", "reporting"):
        assert system.scalar(name, f"SELECT count(*) - count(DISTINCT event_id) FROM inbox WHERE consumer='{name}'") == 0
    assert system.get("routing", "/health").json()["status"] == "ok"
    logs = "".join((system.stack.data_dir / "logs" / f"{n}.log").read_text(errors="replace") for n in SERVICES)
    if kind == "kafka":
        # the log kept everything: no store was published again, and the topic holds each
        # registration once, give or take the few the relay sent twice around the kill
        assert "republishing" not in logs
        records, distinct = _topic_records(system, topic_for("intake"))
        assert distinct == system.scalar("intake", f"SELECT count(*) FROM outbox WHERE topic = '{topic_for('intake')}'")
        assert records - distinct < 600, f"{records - distinct} records written twice"
    else:
        assert "republishing" in logs
    print(f"\n{kind}: {N} registrations, broker away for "
          f"{events['back_at'] - events['killed_at']:.1f}s, none refused, every read model at {N}")

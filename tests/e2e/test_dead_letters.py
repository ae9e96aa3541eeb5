"""A message that cannot be decoded or applied goes to the dead-letter topic; the stream goes on."""
import json
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer

from xinfang.contracts import dlq_topic, topic_for

pytestmark = pytest.mark.e2e

INTAKE = topic_for("intake")


def read_dlq(bootstrap: str, want: int, timeout: float = 20.0) -> list:
    c = KafkaConsumer(dlq_topic(INTAKE), bootstrap_servers=bootstrap, group_id=None,
                      auto_offset_reset="earliest", enable_auto_commit=False, fetch_max_wait_ms=20,
                      consumer_timeout_ms=500)
    got: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < want and time.monotonic() < deadline:
            for m in c:
                got.append(json.loads(m.value))
    finally:
        c.close()
    return got


def test_a_malformed_event_is_dead_lettered_and_the_next_good_event_still_applies(system):
    bootstrap = system.stack.bootstrap
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    md = producer.send(INTAKE, key=b"broken-case", value=b'{"event_type": "CaseRegistered", "oops": ').get(10)
    unknown = producer.send(INTAKE, key=b"broken-case", value=json.dumps({
        "event_id": "00000000-0000-4000-8000-000000000001", "event_type": "CaseTeleported", "schema_version": 1,
        "case_id": "broken-case", "office": "999901001000", "actor": "x", "producer": "intake",
        "occurred_at": "2026-11-20T01:30:00Z", "correlation_id": "x",
        "payload": {"note": "id 110101199003071233"}}).encode()).get(10)
    producer.close()

    case = system.register()  # the next good event
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{case['case_id']}/assignment").status_code == 200,
                    timeout=15, what="the good case to be assigned")
    system.wait_for(lambda: system.get("supervision", f"/api/v1/cases/{case['case_id']}/deadlines").status_code == 200,
                    timeout=15, what="the good case to get deadlines")

    # every consumer of the intake stream dead-letters both bad messages once
    letters = read_dlq(bootstrap, want=6)
    by = {(d["consumer"], d["offset"]): d for d in letters if d["partition"] == md.partition}
    for consumer in ("routing", "supervision", "reporting"):
        bad = by[(consumer, md.offset)]
        assert bad["topic"] == INTAKE and "not JSON" in bad["error"]
        assert bad["value"].startswith('{"event_type"')
        unk = by[(consumer, unknown.offset)]
        assert "unknown event type" in unk["error"]
        assert "110101199003071233" not in json.dumps(unk, ensure_ascii=False)  # personal data masked
    health = system.get("routing", "/health").json()
    assert health["status"] == "ok" and health["dead_lettered"] >= 2

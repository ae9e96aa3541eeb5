"""The four services with ``XINFANG_LOG_FORMAT=json``: every line of every service's log is one
JSON object with its service and level, the consumers' lines carry the correlation id of the
event they apply, no line holds the fixture's ID or phone number, and the W3C traceparent of a
registration's POST reaches every consumer through the Kafka headers (on Apache Kafka it is read
back from the topic itself)."""
from __future__ import annotations

import json
import secrets
import time

import pytest

from tests.e2e.conftest import PETITION, running_system
from xinfang.config import SERVICES
from xinfang.messaging.profiles import BROKERS

pytestmark = pytest.mark.e2e

ID_NUMBER = PETITION["petitioners"][0]["id_number"]
PHONE = PETITION["petitioners"][0]["phone"]
CONSUMERS = ("routing", "supervision", "reporting")


@pytest.fixture(scope="module", params=BROKERS)
def json_system(pg_server, tmp_path_factory, request):
    # DEBUG: the consumers log each event they apply (third-party libraries stay at WARNING)
    env = {"XINFANG_LOG_FORMAT": "json", "XINFANG_LOG_LEVEL": "DEBUG"}
    with running_system(pg_server, tmp_path_factory.mktemp("xinfang"), request.param,
                        f"test_json_logs-{request.param}", env=env) as s:
        yield s


def _lines(system) -> dict[str, list[str]]:
    logs = system.stack.data_dir / "logs"
    return {n: (logs / f"{n}.log").read_text(encoding="utf-8").splitlines() for n in SERVICES}


def _applied(records: list[dict], case_id: str) -> list[dict]:
    """The consumer's lines of applying one event of the case (event by event)."""
    return [r for r in records if r.get("logger") == "xinfang.streams" and r["message"].startswith("applied ")
            and r.get("case_id") == case_id]


def _batches(records: list[dict], correlation_id: str) -> list[dict]:
    """The lines of applying a whole batch (reporting's bulk path) with an event of this correlation."""
    return [r for r in records if r.get("logger") == "xinfang.streams" and r["message"].startswith("applied a batch")
            and correlation_id in r.get("correlation_ids", ())]


def _correlation(parsed: dict[str, list[dict]], case_id: str) -> str | None:
    """The registration's correlation id, from routing's line of applying it (routing applies
    event by event)."""
    return next((r["correlation_id"] for r in _applied(parsed["routing"], case_id)
                 if r["event_type"] == "CaseRegistered"), None)


def _register_traced(system) -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    r = system.http.post(f"{system.url['intake']}/api/v1/petitions", json=PETITION,
                         headers={**system.auth("demo-clerk"), "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
                                  "X-Correlation-Id": "test-json-logs"})
    assert r.status_code == 201, r.text
    return r.json()["case_id"], trace_id


def _parsed_when_applied(system, case_ids: list[str]) -> dict[str, list[dict]]:
    """Every service's log parsed, once each consumer has logged applying the cases' registrations."""
    deadline = time.monotonic() + 60
    while True:
        parsed = {n: [json.loads(line) for line in lines if line.strip()] for n, lines in _lines(system).items()}
        correlations = [_correlation(parsed, c) for c in case_ids]
        if all(correlations) and all(
                _applied(parsed[n], c) or _batches(parsed[n], corr or "")
                for n in CONSUMERS for c, corr in zip(case_ids, correlations, strict=True)):
            return parsed
        if time.monotonic() > deadline:
            return parsed
        time.sleep(0.2)


def test_every_line_is_json_with_service_level_and_no_personal_data(json_system):
    cases = [json_system.register()["case_id"] for _ in range(3)]
    for case_id in cases:
        json_system.clocks(case_id)
    parsed = _parsed_when_applied(json_system, cases)
    for name, lines in _lines(json_system).items():
        assert lines, f"{name} logged nothing"
        text = "\n".join(lines)
        assert ID_NUMBER not in text and PHONE not in text, f"{name}'s log holds personal data in clear"
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)  # raises on a line that is not JSON
            assert isinstance(record, dict), line
            assert record["service"] == name, line
            assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), line
            assert record["timestamp"] and record["logger"], line
    # uvicorn's own lines go through the same formatter
    assert any(r["logger"].startswith("uvicorn") for r in parsed["intake"])
    for name in CONSUMERS:
        consumed = [r for r in parsed[name] if r["logger"] == "xinfang.streams" and r["message"].startswith("applied")]
        assert consumed, f"{name} logged no event applied"
        for r in consumed:  # each names what it applied: its event's ids, or its batch's
            if "batch" in r:
                assert r["correlation_ids"] and r["trace_ids"] is not None, r
            else:
                assert r["correlation_id"] and r["event_id"] and r["event_type"] and r["case_id"], r
                assert "causation_id" in r or r["event_type"] == "CaseRegistered", r
            assert len(r["trace_id"]) == 32 and len(r["span_id"]) == 16, r
        for case_id in cases:
            corr = _correlation(parsed, case_id)
            assert corr, f"routing logged no registration of {case_id} applied"
            assert _applied(parsed[name], case_id) or _batches(parsed[name], corr), \
                f"{name} logged no event of case {case_id} applied"


def test_the_traceparent_of_a_registration_reaches_every_consumer(json_system):
    case_id, trace_id = _register_traced(json_system)
    json_system.clocks(case_id)
    parsed = _parsed_when_applied(json_system, [case_id])
    corr = _correlation(parsed, case_id)
    assert corr, "routing logged no registration applied"
    for name in CONSUMERS:
        registered = [r for r in _applied(parsed[name], case_id) if r["event_type"] == "CaseRegistered"]
        batched = _batches(parsed[name], corr)
        assert registered or batched, f"{name} did not log applying the registration of {case_id}"
        assert {r["trace_id"] for r in registered} <= {trace_id}, name
        assert all(trace_id in r["trace_ids"] for r in batched), name
    # routing's reaction (CaseAssigned, appended while it applied the registration) carries the
    # trace on: supervision applies it in the same trace
    assigned = [r for r in _applied(parsed["supervision"], case_id) if r["event_type"] == "CaseAssigned"]
    assert assigned and {r["trace_id"] for r in assigned} == {trace_id}
    # one registration, one correlation id across the services
    assert {r["correlation_id"] for n in CONSUMERS for r in _applied(parsed[n], case_id)} == {corr}


def test_the_traceparent_travels_in_the_kafka_headers(json_system):
    from kafka import KafkaConsumer

    from xinfang.contracts import topic_for

    case_id, trace_id = _register_traced(json_system)
    json_system.clocks(case_id)
    consumer = KafkaConsumer(topic_for("intake"), topic_for("routing"), bootstrap_servers=json_system.stack.bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        found: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while len(found) < 2 and time.monotonic() < deadline:
            for rec in consumer:
                if rec.key == case_id.encode():
                    headers = dict(rec.headers)
                    found.setdefault(rec.topic, headers.get("traceparent", b"").decode())
                if len(found) == 2:
                    break
    finally:
        consumer.close()
    assert set(found) == {topic_for("intake"), topic_for("routing")}, found
    for topic, tp in found.items():
        version, tid, span_id, _flags = tp.split("-")
        assert (version, tid, len(span_id)) == ("00", trace_id, 16), (topic, tp)

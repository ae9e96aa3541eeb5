"""What an operator watches: every service's and the console's /metrics (Prometheus text), the
consumer lag rising while a consumer is down and falling to 0 once it is back, and the probes:
/livez answers while the database is down, /readyz says 503 and names it."""
from __future__ import annotations

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from xinfang.config import SERVICES
from xinfang.messaging.broker import free_port
from xinfang_cli.supervisor import Stack

pytestmark = pytest.mark.e2e

COMMON = {"xinfang_http_requests_total", "xinfang_http_request_duration_seconds"}
CONSUMER = {"xinfang_consumer_lag_messages", "xinfang_consumer_lag_probe_success",
            "xinfang_consumer_events_applied_total", "xinfang_consumer_batch_duration_seconds",
            "xinfang_consumer_dead_letters_total", "xinfang_auth_tokens_refused_total"}
PUBLISHER = {"xinfang_events_appended_total", "xinfang_outbox_pending_events",
             "xinfang_outbox_oldest_pending_age_seconds"}
EXPECTED = {
    "intake": COMMON | CONSUMER | PUBLISHER,
    "routing": COMMON | PUBLISHER | {"xinfang_consumer_lag_messages", "xinfang_consumer_events_applied_total",
                                     "xinfang_auth_tokens_refused_total"},
    "supervision": COMMON | CONSUMER | PUBLISHER | {"xinfang_deadline_fire_delay_seconds"},
    "reporting": COMMON | CONSUMER,
    "web": COMMON,
}


def scrape(url: str) -> tuple[set[str], dict[str, list[tuple[dict, float]]]]:
    """The metric names a /metrics page declares (its HELP lines) and its samples by name."""
    r = httpx.get(f"{url}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    declared = {line.split()[2] for line in r.text.splitlines() if line.startswith("# HELP ")}
    samples: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return declared, samples


def lag_of(url: str) -> dict[tuple[str, str], float] | None:
    """A consumer's lag per (topic, partition) from its /metrics; None if its probe failed."""
    _, samples = scrape(url)
    if not any(v == 1.0 for _, v in samples.get("xinfang_consumer_lag_probe_success", [])):
        return None
    return {(labels["topic"], labels["partition"]): v for labels, v in samples.get("xinfang_consumer_lag_messages", [])}


def test_every_service_and_the_console_expose_their_metrics(system):
    system.start_web()
    case = system.register(summary="指标")
    system.wait_for(lambda: system.get("reporting", "/api/v1/stats/summary").json()["registered"] >= 1,
                    timeout=30, what="reporting saw the registration")
    assert system.get("routing", f"/api/v1/cases/{case['case_id']}/assignment").status_code in (200, 404)
    assert httpx.get(f"{system.url['supervision']}/api/v1/me", timeout=5).status_code == 401  # no token
    for name in (*SERVICES, "web"):
        url = system.url[name]
        assert httpx.get(f"{url}/livez", timeout=5).json()["status"] == "ok"
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready", (name, ready.text)
        declared, samples = scrape(url)
        missing = EXPECTED[name] - declared
        assert not missing, f"{name} lacks {sorted(missing)}"
        for labels, _ in samples.get("xinfang_http_requests_total", []):
            assert labels["service"] == name
            assert "{" in labels["route"] or labels["route"].count("/") < 6  # templates, not raw URLs
        assert all(len(labels.get("route", "")) < 80 for labels, _ in samples.get("xinfang_http_requests_total", []))

    _, intake = scrape(system.url["intake"])
    posted = [v for labels, v in intake["xinfang_http_requests_total"]
              if labels["route"] == "/api/v1/petitions" and labels["method"] == "POST" and labels["status"] == "201"]
    assert posted and posted[0] >= 1
    assert sum(v for _, v in intake["xinfang_events_appended_total"]) >= 1
    _, routing = scrape(system.url["routing"])
    templates = {labels["route"] for labels, _ in routing["xinfang_http_requests_total"]}
    assert "/api/v1/cases/{case_id}/assignment" in templates
    assert not any(case["case_id"] in t for t in templates)  # never a case id as a label
    _, supervision = scrape(system.url["supervision"])
    refused = {labels["reason"]: v for labels, v in supervision["xinfang_auth_tokens_refused_total"]}
    assert refused.get("missing", 0) >= 1
    _, reporting = scrape(system.url["reporting"])
    assert sum(v for _, v in reporting["xinfang_consumer_events_applied_total"]) >= 1
    assert reporting["xinfang_consumer_batch_duration_seconds_count"]


def test_the_consumer_lag_rises_while_reporting_is_down_and_falls_to_0_after(system):
    """Reporting's lag is its own (its positions are in its database): while it is down the same
    collector is run here against its database and the broker; back up, its /metrics says 0."""
    from services.reporting.streams import subscriptions
    from xinfang import staff
    from xinfang.config import settings
    from xinfang.contracts import topic_for
    from xinfang.metrics import ConsumerLagCollector
    from xinfang.storage import Database

    def caught_up():
        lag = lag_of(system.url["reporting"])
        return lag is not None and lag and all(v == 0 for v in lag.values()) and lag
    system.wait_for(caught_up, timeout=30, what="reporting's lag at 0 before the stop")

    system.stack.kill("reporting")
    db = Database(system.db_urls["reporting"])
    collector = ConsumerLagCollector(
        "reporting", "reporting", db, system.stack.bootstrap,
        sorted({s.topic for s in staff.with_revocations(subscriptions())}),
        broker_kind=system.broker_kind, partitions=settings().topic_partitions)
    try:
        for i in range(3):
            system.register(summary=f"积压{i}")

        def lag_by_topic():
            result = collector.probe()
            if result is None:
                return None
            ends, positions = result
            by_topic: dict[str, int] = {}
            for (topic, partition), end in ends.items():
                by_topic[topic] = by_topic.get(topic, 0) + max(0, end - positions.get((topic, partition), -1) - 1)
            return by_topic

        # three registrations: intake's CaseRegistered, routing's CaseAssigned, supervision's clocks
        lag = system.wait_for(lambda: (lambda t: t and t[topic_for("intake")] >= 3 and t[topic_for("routing")] >= 3
                                       and t[topic_for("supervision")] >= 3 and t)(lag_by_topic()),
                              timeout=30, what="reporting's lag to rise on the three topics")
        assert sum(lag.values()) >= 9
    finally:
        collector.close()
        db.dispose()

    system.stack.restart("reporting")
    lag = system.wait_for(caught_up, timeout=60, what="reporting's lag back to 0")
    partitions = settings().topic_partitions
    assert set(lag) == {(topic_for(p), str(n)) for p in ("intake", "routing", "supervision") for n in range(partitions)}
    assert system.get("reporting", "/api/v1/stats/summary").json()["registered"] >= 4


def test_livez_answers_while_the_database_is_down_and_readyz_says_503(system, tmp_path):
    """One reporting of its own on a PostgreSQL cluster of its own (the shared one stays up)."""
    from xinfang.storage.local_postgres import LocalPostgres, PostgresUnavailable

    try:
        cluster = LocalPostgres().start()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL binaries for a cluster of the test's own: {exc}")
    stack = None
    try:
        with psycopg.connect(cluster.admin_url, autocommit=True) as c:
            c.execute('CREATE DATABASE "xf_reporting_probe"')
        url = cluster.admin_url.rsplit("/", 1)[0] + "/xf_reporting_probe"
        stack = Stack(data_dir=tmp_path, bootstrap=system.stack.bootstrap, ports={"reporting": free_port()},
                      env={"REPORTING_DATABASE_URL": url}, broker_kind=system.broker_kind, demo=False)
        stack.start(names=["reporting"], timeout=60)
        base = stack.services["reporting"].url
        assert httpx.get(f"{base}/livez", timeout=5).status_code == 200
        ready = system.wait_for(lambda: (lambda r: r.status_code == 200 and r)(httpx.get(f"{base}/readyz", timeout=10)),
                                timeout=20, what="the probe service ready")
        assert ready.json()["failing"] == []

        cluster.stop()
        cluster = None
        r = system.wait_for(lambda: (lambda r: r.status_code == 503 and r)(httpx.get(f"{base}/readyz", timeout=10)),
                            timeout=20, what="/readyz to say 503")
        assert "database" in r.json()["failing"] and r.json()["database"] == "unreachable"
        for _ in range(3):
            live = httpx.get(f"{base}/livez", timeout=5)
            assert live.status_code == 200 and live.json() == {"status": "ok", "service": "reporting"}
        assert httpx.get(f"{base}/health", timeout=10).status_code == 503  # as before
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 200  # still scraped, fewer samples
    finally:
        if stack is not None:
            stack.stop()
        if cluster is not None:
            cluster.stop()

"""The Grafana dashboard's queries against a real Prometheus (Debian's `prometheus`) scraping a
running system: every metric a panel names is one the services expose, every query evaluates,
and the panels an operator reads first show data once petitions flow."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from xinfang.messaging.broker import die_with_parent, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "xinfang.json"
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(p.get("title", ""), t["expr"]) for p in board["panels"] for t in p.get("targets", []) if t.get("expr")]


@pytest.fixture(scope="module")
def system(pg_server, tmp_path_factory, request):
    from tests.e2e.conftest import running_system

    # the metrics do not depend on the broker: one system, on the light one
    with running_system(pg_server, tmp_path_factory.mktemp("xinfang"), "tansu", "test_dashboard-tansu") as s:
        yield s


@pytest.fixture(scope="module")
def prometheus(system, tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("no prometheus binary: `make test` installs Debian's prometheus (apt-get install prometheus)")
    folder = tmp_path_factory.mktemp("prometheus")
    targets = [httpx.URL(system.url[n]).netloc.decode() for n in ("intake", "routing", "supervision", "reporting")]
    # the scrape configuration of deploy/prometheus, on this system's ports and every second
    (folder / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n  - job_name: xinfang\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: {json.dumps(targets)}\n")
    port = free_port()
    log = open(folder / "prometheus.log", "w")
    proc = subprocess.Popen([binary, f"--config.file={folder / 'prometheus.yml'}",
                             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        system.wait_for(lambda: _up(api) == len(targets), timeout=60, what="Prometheus scraping every service")
        yield api
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def _up(api: str) -> int:
    try:
        r = httpx.get(f"{api}/query", params={"query": 'sum(up{job="xinfang"})'}, timeout=5).json()
        return int(float(r["data"]["result"][0]["value"][1])) if r["data"]["result"] else 0
    except (httpx.HTTPError, KeyError, ValueError):
        return 0


def _query(api: str, expr: str) -> list:
    r = httpx.get(f"{api}/query", params={"query": expr.replace("$service", ".*")}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]["result"]


def test_every_metric_a_panel_names_is_exposed_and_every_query_evaluates(system, prometheus):
    metadata = httpx.get(f"{prometheus}/metadata", timeout=10).json()["data"]
    for title, expr in dashboard_queries():
        for name in re.findall(r"\b(xinfang_[a-z_]+)", expr):
            family = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)
                           and name[: -len(s)] in metadata), name)
            assert family in metadata, f"panel {title!r} reads {name}, which no service exposes"
        _query(prometheus, expr)


def test_the_first_panels_show_data_once_petitions_flow(system, prometheus):
    for _ in range(3):
        system.register()
    system.wait_for(lambda: system.get("reporting", "/api/v1/stats/summary").json()["registered"] >= 3,
                    timeout=60, what="the petitions counted")
    time.sleep(3)  # three scrapes after the traffic
    wanted = {
        "Requests per second by route": "intake",
        "Events appended per second": "intake",
        "Events applied per second": "reporting",
        "Consumer lag by topic (messages)": "reporting",
        "Outbox rows waiting": "routing",
        "Lag probe success (broker and positions read)": "supervision",
    }
    queries = dict(dashboard_queries())
    for title, service in wanted.items():
        assert title in queries, f"the dashboard has no panel {title!r}"

        def shown(expr=queries[title], service=service):
            return any(r["metric"].get("service") == service for r in _query(prometheus, expr))

        system.wait_for(shown, timeout=30, what=f"panel {title!r} showing {service}")
    lag = _query(prometheus, 'sum by (service) (xinfang_consumer_lag_messages)')
    assert {r["metric"]["service"] for r in lag} >= {"routing", "supervision", "reporting"}

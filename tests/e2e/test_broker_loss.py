"""The databases are the source of truth: when the broker loses everything (the embedded broker
keeps nothing across a restart; an Apache Kafka whose log is lost), republishing the stores
restores the topics and every read model, without applying anything twice."""

import pytest

from tests.conftest import ARTIFACTS, bootstrap_of, running_broker
from tests.e2e.conftest import RunningSystem
from xinfang.config import SERVICES
from xinfang.messaging.broker import free_port
from xinfang.messaging.profiles import BROKERS
from xinfang_cli.supervisor import Stack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("broker_kind", BROKERS)
def test_a_new_empty_broker_is_refilled_from_the_stores(pg_server, tmp_path, broker_kind):
    logs = ARTIFACTS / f"logs-test_broker_loss-{broker_kind}"
    urls = {n: pg_server.create_database(f"xf_{n}") for n in SERVICES}
    env = {f"{n.upper()}_DATABASE_URL": u for n, u in urls.items()}
    ports = {n: free_port() for n in SERVICES}
    try:
        with running_broker(broker_kind, logs / "broker-first.log", root=tmp_path / "kafka-first") as first:
            stack = Stack(data_dir=tmp_path, bootstrap=bootstrap_of(first), ports=ports, env=dict(env),
                          broker_kind=broker_kind).start()
            try:
                sys1 = RunningSystem(stack, urls)
                ids = [sys1.register(summary=f"第{i}件")["case_id"] for i in range(5)]
                sys1.wait_for(lambda: sys1.get("reporting", "/api/v1/stats/summary").json()["assigned"] == 5,
                              timeout=30, what="5 assigned cases in reporting")
            finally:
                stack.stop()

        # the broker is gone with its data; reporting's read model is dropped as well
        pg_server.drop_database(urls["reporting"])
        urls["reporting"] = pg_server.create_database("xf_reporting")
        env["REPORTING_DATABASE_URL"] = urls["reporting"]

        # a new broker with an empty log (for Kafka: another folder, as if its disk were lost)
        with running_broker(broker_kind, logs / "broker-second.log", root=tmp_path / "kafka-second") as second:
            stack = Stack(data_dir=tmp_path, bootstrap=bootstrap_of(second), ports=ports,
                          env={**env, "XINFANG_REPUBLISH_ON_START": "1"}, broker_kind=broker_kind).start()
            try:
                sys2 = RunningSystem(stack, urls)
                s = sys2.wait_for(lambda: (lambda s: s["registered"] == 5 and s["assigned"] == 5 and s)(
                    sys2.get("reporting", "/api/v1/stats/summary").json()), timeout=60, what="reporting rebuilt")
                assert s["by_channel"] == {"letter": 5}
                for cid in ids:
                    assert sys2.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200
                # routing and supervision saw every registration again and changed nothing
                assert sys2.scalar("routing", "SELECT count(*) FROM events WHERE event_type = 'CaseAssigned'") == 5
                # supervision: per case DeadlineSet assignment + handling, DeadlineMet assignment,
                # DeadlineSet objection + acceptance (it may still be catching up on the assignments)
                clocks = "SELECT count(*) FROM events WHERE event_type IN ('DeadlineSet', 'DeadlineMet')"
                sys2.wait_for(lambda: sys2.scalar("supervision", clocks) >= 25, timeout=30, what="supervision")
                assert sys2.scalar("supervision", clocks) == 25
                new = sys2.register()
                sys2.wait_for(lambda: sys2.get("reporting", "/api/v1/stats/summary").json()["registered"] == 6,
                              timeout=15, what="a new case after the refill")
                assert new["case_id"] not in ids
            finally:
                stack.stop()
    finally:
        for u in urls.values():
            pg_server.drop_database(u)

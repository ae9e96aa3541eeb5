"""The whole system as processes: a broker of its own (tansu, then Apache Kafka: the ``system``
fixture runs each module once on each), four services on PostgreSQL, free ports."""
from __future__ import annotations

import contextlib
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import ARTIFACTS, bootstrap_of, running_broker
from xinfang.config import SERVICES
from xinfang.messaging.broker import free_port
from xinfang.messaging.profiles import BROKERS
from xinfang_cli.supervisor import Stack

DEMO_PASSWORD = "xinfang-demo"
BEIJING = timezone(timedelta(hours=8))
# the fixture letter came in four days before the run, at 09:30 Beijing time: dates fixed once had
# aged (a letter of 20 November 2026 would be past every limit by the new year)
RECEIVED = (datetime.now(BEIJING) - timedelta(days=4)).replace(hour=9, minute=30, second=0, microsecond=0)


def received_plus(days: int, hour: int = 9, minute: int = 30) -> datetime:
    """A Beijing time ``days`` after the fixture letter came in."""
    return (RECEIVED + timedelta(days=days)).replace(hour=hour, minute=minute)


PETITION = {
    "channel": "letter",
    "received_at": RECEIVED.isoformat(),
    "petitioners": [{"name": "张三", "id_type": "resident_id", "id_number": "110101199003071233",
                     "phone": "13800000000", "address": "示范县城关镇"}],
    "headcount": 1,
    "purpose": "appeal",
    "category_code": "0702",
    "division_code": "999901001001",
    "summary": "拖欠工资",
    "request": "请求督促支付工资",
}


def another_petitioner(n: int) -> list[dict]:
    """A petitioner other than PETITION's: a case of theirs is no repeat of the fixture person's."""
    from xinfang.privacy import resident_id_check_char

    body = f"11010519800101{n % 1000:03d}"
    return [{**PETITION["petitioners"][0], "name": f"李四{n}", "id_number": body + resident_id_check_char(body)}]


class RunningSystem:
    def __init__(self, stack: Stack, db_urls: dict[str, str], broker=None) -> None:
        self.stack, self.db_urls = stack, db_urls
        self.broker = broker  # the EmbeddedBroker or ApacheKafka the stack runs on
        self.broker_kind = stack.broker_kind
        self.url = {n: stack.services[n].url for n in SERVICES}
        self.http = httpx.Client(timeout=10)
        self._tokens: dict[str, str] = {}

    def token(self, user: str = "demo-clerk", password: str = DEMO_PASSWORD) -> str:
        if user not in self._tokens:
            r = self.http.post(f"{self.url['routing']}/api/v1/auth/sign-in",
                               json={"username": user, "password": password})
            assert r.status_code == 200, r.text
            self._tokens[user] = r.json()["access_token"]
        return self._tokens[user]

    def auth(self, user: str = "demo-clerk") -> dict:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def register(self, user: str = "demo-clerk", **changes) -> dict:
        r = self.http.post(f"{self.url['intake']}/api/v1/petitions", json={**PETITION, **changes},
                           headers=self.auth(user))
        assert r.status_code == 201, r.text
        return r.json()

    def sign(self, case_id: str, user: str) -> None:
        """The unit signs for the case (routing), and intake has heard it: an acceptance waits for it."""
        r = self.post("routing", f"/api/v1/cases/{case_id}/sign", {}, user=user)
        assert r.status_code == 200, r.text
        self.heard_signing(case_id)

    def heard_signing(self, case_id: str) -> None:
        """Intake has heard routing's CaseSignedFor of the case (from routing's topic)."""
        self.wait_for(lambda: self.rows("intake", f"SELECT signed_at IS NOT NULL FROM cases WHERE case_id = '{case_id}'")
                      == [True], timeout=20, what=f"intake to hear that case {case_id} was signed for")

    def get(self, service: str, path: str, user: str = "demo-leader") -> httpx.Response:
        return self.http.get(f"{self.url[service]}{path}", headers=self.auth(user) if user else {})

    def post(self, service: str, path: str, json: dict, user: str = "demo-clerk") -> httpx.Response:
        return self.http.post(f"{self.url[service]}{path}", json=json, headers=self.auth(user) if user else {})

    def start_web(self) -> str:
        """The web console on a free port over this system's services (for the browser tests)."""
        if "web" not in self.stack.services:
            self.stack.ports["web"] = free_port()
            self.stack.start_service("web")
            self.stack.wait_healthy(["web"], timeout=60)
        self.url["web"] = self.stack.services["web"].url
        return self.url["web"]

    def rows(self, service: str, sql: str) -> list:
        """The first column of a query on one service's own database (as its operator would read it)."""
        e = sa.create_engine(self.db_urls[service].replace("postgresql://", "postgresql+psycopg://"))
        try:
            with e.connect() as c:
                return c.execute(sa.text(sql)).scalars().all()
        finally:
            e.dispose()

    def scalar(self, service: str, sql: str):
        return self.rows(service, sql)[0]

    def clocks(self, case_id: str, user: str = "demo-leader", timeout: float = 30.0,
               stages=("assignment", "handling", "objection")) -> dict:
        """The case's deadlines once supervision has heard both intake's CaseRegistered and routing's
        CaseAssigned: they come on different topics in either order, and either one alone already
        makes the deadlines answer 200 (with fewer clocks, and no unit yet)."""
        def ready():
            r = self.get("supervision", f"/api/v1/cases/{case_id}/deadlines", user=user)
            return r.status_code == 200 and set(stages) <= {s["stage"] for s in r.json()["stages"]} and r.json()
        return self.wait_for(ready, timeout=timeout, what=f"the clocks {', '.join(stages)} of case {case_id}")

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@contextlib.contextmanager
def running_system(pg_server, data_dir, broker_kind: str, logs_name: str, env: dict | None = None):
    """A fresh broker of ``broker_kind``, fresh databases, the four services; their logs copied to
    test-artifacts/logs-<logs_name>/ afterwards."""
    db_urls = {name: pg_server.create_database(f"xf_{name}") for name in SERVICES}
    logs = ARTIFACTS / f"logs-{logs_name}"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        with running_broker(broker_kind, logs / "broker.log", root=data_dir / "kafka") as broker:
            stack = Stack(data_dir=data_dir, bootstrap=bootstrap_of(broker), ports={n: free_port() for n in SERVICES},
                          broker_kind=broker_kind,
                          env={**{f"{n.upper()}_DATABASE_URL": u for n, u in db_urls.items()}, **(env or {})})
            try:
                stack.start(timeout=90)
                yield RunningSystem(stack, db_urls, broker)
            finally:
                stack.stop()
                for f in (data_dir / "logs").glob("*.log"):
                    (logs / f.name).write_bytes(f.read_bytes())
    finally:
        for u in db_urls.values():
            pg_server.drop_database(u)


@pytest.fixture(scope="module", params=BROKERS)
def system(pg_server, tmp_path_factory, request):
    """A running system for one test module, on each broker in turn (test ids end [tansu] / [kafka])."""
    name = f"{request.module.__name__.rsplit('.', 1)[-1]}-{request.param}"
    with running_system(pg_server, tmp_path_factory.mktemp("xinfang"), request.param, name) as s:
        yield s

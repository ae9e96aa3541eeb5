"""Fixtures for real components: PostgreSQL and a Kafka-protocol broker.

Where a Docker engine is reachable, testcontainers starts PostgreSQL and Apache Kafka. These
machines have none: then the fixtures use the PostgreSQL server at 127.0.0.1:5432 and the
embedded tansu broker, and say so in the test report header. Nothing here is a mock.
"""
from __future__ import annotations

import contextlib
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

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
LOCAL_PG = os.environ.get("XINFANG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_report_header(config):
    if _DOCKER_ABSENT:
        return [f"testcontainers: {_DOCKER_ABSENT}; falling back to PostgreSQL at {LOCAL_PG} "
                f"and the embedded tansu broker"]
    return ["testcontainers: Docker engine reachable; PostgreSQL and Kafka run in containers"]


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
    if _DOCKER_ABSENT is None:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield PgServer(pg.get_connection_url())
        return
    import psycopg

    try:
        psycopg.connect(LOCAL_PG, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no Docker engine and no PostgreSQL at {LOCAL_PG}: {exc}")
    print(f"\n[xinfang tests] {_DOCKER_ABSENT}: using PostgreSQL at {LOCAL_PG}", file=sys.stderr)
    yield PgServer(LOCAL_PG)


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


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """A Kafka-protocol broker for the whole session."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    if _DOCKER_ABSENT is None:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    from xinfang.messaging.broker import EmbeddedBroker

    print(f"\n[xinfang tests] {_DOCKER_ABSENT}: using the embedded tansu broker", file=sys.stderr)
    with EmbeddedBroker(log_path=ARTIFACTS / "broker.log") as broker:
        yield broker.bootstrap


def unique_topic(prefix: str = "xinfang.test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"

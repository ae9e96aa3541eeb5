"""What the operator commands (``lag``, ``dlq``, ``backup``, ``restore``) share: each service's
database opened read-only-ish by its ``<NAME>_DATABASE_URL``, the topics each service consumes, and
the broker reached as a plain client (``KAFKA_BOOTSTRAP_SERVERS``, ``XINFANG_BROKER``)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
import typer

from xinfang.config import service_settings, settings
from xinfang.contracts import topic_for
from xinfang.terminal import console

# what each service's StreamProcessor subscribes to (services/<name>/streams.py); its consumer name
# is the service's name and its consumer group ``xinfang-<service>``. Every service hears the
# chain checkpoints of every other producing service (xinfang/checkpointing.py)
CONSUMES: dict[str, tuple[str, ...]] = {
    "intake": (topic_for("routing"), topic_for("supervision")),
    "routing": (topic_for("intake"), topic_for("supervision")),
    "supervision": (topic_for("intake"), topic_for("routing")),
    "reporting": (topic_for("intake"), topic_for("routing"), topic_for("supervision")),
}


def group_of(service: str) -> str:
    return f"xinfang-{service}"


def database_url(service: str) -> str:
    return service_settings(service).database_url


def kind_of(url: str) -> str:
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith(("postgresql", "postgres")):
        return "postgresql"
    raise ValueError(f"unsupported database URL {without_password(url)}")


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[-1])


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (pg_dump, pg_restore) takes it: no ``+driver``."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.split("+", 1)[0] in ("postgresql", "postgres") else url


def without_password(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[sa.Engine]:
    """A small engine on one service's database (no pool kept), disposed afterwards. A SQLite file
    that does not exist is an error, not a new empty database."""
    if kind_of(url) == "sqlite":
        path = sqlite_path(url)
        if not path.exists():
            raise FileNotFoundError(f"no database at {path}")
        engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    else:
        rest = url.split("://", 1)[1]
        engine = sa.create_engine(f"postgresql+psycopg://{rest}", poolclass=sa.pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def bootstrap() -> str:
    b = settings().kafka_bootstrap_servers
    if not b:
        console.print("KAFKA_BOOTSTRAP_SERVERS is not set (the embedded broker runs only inside `xinfang up`; "
                      "`xinfang up` prints its address).\n未设置 KAFKA_BOOTSTRAP_SERVERS。")
        raise typer.Exit(2)
    return b


def broker_kind() -> str:
    return settings().broker

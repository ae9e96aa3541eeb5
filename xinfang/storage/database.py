"""Engine creation for a service database: a SQLite file by default, PostgreSQL in production."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from xinfang.storage.migrations import upgrade


class Database:
    """One service's database: the engine plus listeners told after each commit that wrote events."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = _create_engine(url, echo=echo)
        # reads need no writer lock: SQLite in WAL mode lets readers run beside the one writer
        self.read_engine = _create_read_engine(url, echo=echo) if url.startswith("sqlite") else self.engine
        self._after_commit: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        # during ``xinfang restore``'s catch-up only: appends first look for the event among those
        # staged from the service's own topic (recovery.py)
        self.recovering = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self, script_location: str | Path) -> None:
        upgrade(self.engine, script_location)

    def on_events_committed(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._after_commit.append(fn)

    def events_committed(self) -> None:
        for fn in list(self._after_commit):
            fn()

    def read(self) -> sa.Connection:
        """A connection for queries only (``with db.read() as c: ...``); never write through it."""
        return self.read_engine.connect()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as c:
                c.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _create_read_engine(url: str, *, echo: bool) -> sa.Engine:
    engine = sa.create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA query_only=ON")
        # reports sort and group every case of a county: 64 MiB of pages rather than 2, and
        # temporary b-trees (a materialized CTE, GROUP BY) in memory, not in a file (-5 to -15 %)
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        conn.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no write lock

    return engine


def _create_engine(url: str, *, echo: bool) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One writer at a time, handed over by a Python lock: SQLite's own busy handler sleeps in
        # steps of up to 100 ms while it waits, which under load costs far more than the writes.
        lock = threading.Lock()

        class _Connection(sqlite3.Connection):
            holds_lock = False

            def _release(self) -> None:
                if self.holds_lock:
                    self.holds_lock = False
                    lock.release()

            def commit(self) -> None:
                try:
                    super().commit()
                finally:
                    self._release()

            def rollback(self) -> None:
                try:
                    super().rollback()
                finally:
                    self._release()

            def close(self) -> None:
                try:
                    super().close()
                finally:
                    self._release()

        engine = sa.create_engine(url, echo=echo, connect_args={
            "timeout": 30, "check_same_thread": False, "factory": _Connection})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event emit BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: a bulk load's random-key index pages (+10 %)
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            dbapi_conn = conn.connection.dbapi_connection
            lock.acquire()
            dbapi_conn.holds_lock = True
            # take SQLite's write lock up front: no read-then-upgrade deadlocks between threads
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)

"""One transaction of one service: events appended with their outbox rows, consumed event ids
recorded with their effect. Nothing reaches Kafka that is not committed here first."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from xinfang import metrics
from xinfang.contracts import Envelope, decode, encode, topic_for
from xinfang.storage import chain, recovery
from xinfang.storage.database import Database
from xinfang.storage.sets import one_of
from xinfang.storage.tables import events, inbox, outbox, positions
from xinfang.tracing import current_traceparent

# Built once: a statement built per call cost more than running it (SQLAlchemy derives each new
# statement's cache key), and every consumed event runs these
_STREAM_VERSION = sa.select(sa.func.max(events.c.version)).where(events.c.stream_id == sa.bindparam("k_stream"))
_INSERT_OUTBOX, _INSERT_INBOX = outbox.insert(), inbox.insert()
# the positions given back, in the rows' order: they are linked into the hash chain at commit
_INSERT_EVENTS = events.insert().returning(events.c.position, sort_by_parameter_order=True)
_IS_APPLIED = sa.select(inbox.c.event_id).where(inbox.c.consumer == sa.bindparam("k_consumer"),
                                                inbox.c.event_id == sa.bindparam("k_event"))
_POSITION_KEY = ((positions.c.consumer == sa.bindparam("k_consumer")) & (positions.c.topic == sa.bindparam("k_topic"))
                 & (positions.c.partition == sa.bindparam("k_partition")))
_POSITION = sa.select(positions.c.offset).where(_POSITION_KEY)
_INSERT_POSITION = positions.insert()
_UPDATE_POSITION = positions.update().where(_POSITION_KEY)


class ConcurrencyConflict(Exception):
    """The stream moved on since the caller read it (HTTP 409)."""

    def __init__(self, stream_id: str, expected: int, actual: int | None) -> None:
        self.stream_id, self.expected, self.actual = stream_id, expected, actual
        super().__init__(f"stream {stream_id}: expected version {expected}, found {actual}")


class AlreadyApplied(Exception):
    """This consumer applied the event before: redelivery is a no-op."""


def load_stream(conn: sa.Connection, stream_id: str) -> list[Envelope]:
    rows = conn.execute(sa.select(events.c.body).where(events.c.stream_id == stream_id).order_by(events.c.version))
    return [decode(r.body) for r in rows]


def _entered(conn: sa.Connection | None) -> sa.Connection:
    if conn is None:
        raise RuntimeError("a unit of work or read view is used outside its `with` block")
    return conn


class ReadView:
    """Queries only, on a read connection: on SQLite it does not wait for the writer."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: sa.Connection | None = None

    @property
    def conn(self) -> sa.Connection:
        return _entered(self._conn)

    def __enter__(self) -> ReadView:
        self._conn = self.db.read()
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()

    def execute(self, stmt, *args, **kw):
        return self.conn.execute(stmt, *args, **kw)

    def load(self, stream_id: str) -> list[Envelope]:
        return load_stream(self.conn, stream_id)


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: sa.Connection | None = None
        self._appended = 0
        self._unlinked: list[int] = []  # positions appended here, linked into the chain at commit
        self.reproduced = 0  # staged events a handler made again (recovery.py)

    @property
    def conn(self) -> sa.Connection:
        return _entered(self._conn)

    def __enter__(self) -> UnitOfWork:
        self._conn = self.db.engine.connect()
        self._conn.begin()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and self.conn.in_transaction():
                self.commit()
            elif self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()

    def commit(self) -> None:
        try:
            if self._unlinked:  # last, so the chain's lock is held only until the commit
                chain.link(self.conn, self._unlinked)
                self._unlinked = []
            self.conn.commit()
        except IntegrityError as exc:
            raise _conflict_from(exc) from exc
        if self._appended:
            metrics.events_appended(self._appended)  # counted once committed, not when rolled back
            self._appended = 0
            self.db.events_committed()

    # ---------------------------------------------------------------- event store

    def stream_version(self, stream_id: str) -> int:
        v = self.conn.execute(_STREAM_VERSION, {"k_stream": stream_id}).scalar()
        return int(v or 0)

    def load(self, stream_id: str) -> list[Envelope]:
        return load_stream(self.conn, stream_id)

    def append(self, stream_id: str, expected_version: int | None, new: Iterable[Envelope]) -> list[Envelope]:
        """Append events at expected_version+1.. and queue them in the outbox, atomically.
        ``expected_version`` None: at the stream's head, whatever it is (one version read, where
        reading it first to pass it in took two); a writer racing to the same version still fails
        on the unique (stream, version) and raises ConcurrencyConflict."""
        actual = self.stream_version(stream_id)
        if expected_version is None:
            expected_version = actual
        elif actual != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        now = datetime.now(UTC)
        stored = [env.model_copy(update={"stream_version": expected_version + i, "recorded_at": now})
                  for i, env in enumerate(new, start=1)]
        if not stored:
            return stored
        published: set[int] = set()
        try:  # one savepoint and one multi-row insert per append, not per event
            with self.conn.begin_nested():
                if self.db.recovering:  # after a restore: a reaction made again is the one published before
                    published = self._made_again(stored)
                bodies = [encode(env).decode() for env in stored]
                inserted = self.conn.execute(_INSERT_EVENTS, [dict(
                    event_id=env.event_id, stream_id=stream_id, version=env.stream_version,
                    event_type=env.event_type, schema_version=env.schema_version,
                    case_id=env.case_id, occurred_at=env.occurred_at, recorded_at=env.recorded_at, body=body,
                ) for env, body in zip(stored, bodies, strict=False)]).scalars().all()
        except IntegrityError as exc:
            raise ConcurrencyConflict(stream_id, expected_version, self.stream_version(stream_id)) from exc
        self._unlinked += inserted
        self.reproduced += len(published)
        traceparent = current_traceparent()  # the request's or the consumer's span: the relay sends it on
        outgoing = [dict(event_id=env.event_id, topic=topic_for(env.producer), key=env.case_id, body=body,
                         created_at=now, traceparent=traceparent)
                    for i, (env, body) in enumerate(zip(stored, bodies, strict=False)) if i not in published]
        if outgoing:
            self.conn.execute(_INSERT_OUTBOX, outgoing)
        self._appended += len(stored)
        return stored

    def _made_again(self, stored: list[Envelope]) -> set[int]:
        """Replace in ``stored`` each event staged by a restore (recovery.py) that it makes again
        by the staged one, at the new version; the indexes replaced (they go to no outbox)."""
        replaced = set()
        for i, env in enumerate(stored):
            was = recovery.substitute(self.conn, env)
            if was is not None:
                stored[i] = was.model_copy(update={"stream_version": env.stream_version})
                replaced.add(i)
        return replaced

    def append_recorded(self, env: Envelope) -> Envelope:
        """Store an event published before (recovery.py) at its stream's head: its id, payload
        and times as they were, no outbox row."""
        version = self.stream_version(env.case_id) + 1
        stored = env.model_copy(update={"stream_version": version})
        self._unlinked += self.conn.execute(_INSERT_EVENTS, [dict(
            event_id=stored.event_id, stream_id=stored.case_id, version=version, event_type=stored.event_type,
            schema_version=stored.schema_version, case_id=stored.case_id, occurred_at=stored.occurred_at,
            recorded_at=stored.recorded_at, body=encode(stored).decode())]).scalars().all()
        recovery.take(self.conn, env.event_id)
        return stored

    # ---------------------------------------------------------------- inbox

    def is_applied(self, consumer: str, event_id: str) -> bool:
        return self.conn.execute(_IS_APPLIED, {"k_consumer": consumer, "k_event": event_id}).first() is not None

    def mark_applied(self, consumer: str, env: Envelope, topic: str, partition: int, offset: int) -> None:
        """Record that ``consumer`` applied ``env``; raises AlreadyApplied on a duplicate."""
        if self.is_applied(consumer, env.event_id):
            raise AlreadyApplied(env.event_id)
        try:
            with self.conn.begin_nested():
                self.conn.execute(_INSERT_INBOX, dict(
                    consumer=consumer, event_id=env.event_id, topic=topic, partition=partition,
                    offset=offset, applied_at=datetime.now(UTC),
                ))
        except IntegrityError as exc:
            raise AlreadyApplied(env.event_id) from exc
        self.record_position(consumer, topic, partition, offset)

    def applied_among(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Which of these events ``consumer`` has applied already (one query)."""
        seen: set[str] = set()
        for known in one_of(self.conn, inbox.c.event_id, list(dict.fromkeys(event_ids))):
            seen.update(self.conn.execute(sa.select(inbox.c.event_id).where(
                inbox.c.consumer == consumer, known)).scalars())
        return seen

    def record_applied(self, consumer: str, items: list[tuple[Envelope, str, int, int]]) -> None:
        """Record that ``consumer`` applied these deliveries ``(envelope, topic, partition, offset)``:
        one multi-row inbox insert, and each partition's position once. An event recorded meanwhile
        by another writer raises IntegrityError (the caller's transaction is then lost)."""
        now = datetime.now(UTC)
        if items:
            self.conn.execute(_INSERT_INBOX, [dict(consumer=consumer, event_id=env.event_id, topic=topic,
                                                    partition=partition, offset=offset, applied_at=now)
                                               for env, topic, partition, offset in items])
        top: dict[tuple[str, int], int] = {}
        for _env, topic, partition, offset in items:
            top[(topic, partition)] = max(offset, top.get((topic, partition), offset))
        for (topic, partition), offset in top.items():
            self.record_position(consumer, topic, partition, offset)

    def mark_applied_many(self, consumer: str, items: list[tuple[Envelope, str, int, int]]) -> list[int]:
        """Record many deliveries at once; returns the indexes of the items to apply (an event
        delivered twice in the same batch counts once, one already applied not at all)."""
        seen = self.applied_among(consumer, [env.event_id for env, *_ in items])
        fresh = []
        for i, (env, *_rest) in enumerate(items):
            if env.event_id not in seen:
                seen.add(env.event_id)
                fresh.append(i)
        self.record_applied(consumer, [items[i] for i in fresh])
        return fresh

    def record_position(self, consumer: str, topic: str, partition: int, offset: int) -> None:
        key = {"k_consumer": consumer, "k_topic": topic, "k_partition": partition}
        cur = self.conn.execute(_POSITION, key).scalar()
        if cur is None:
            self.conn.execute(_INSERT_POSITION, dict(consumer=consumer, topic=topic, partition=partition, offset=offset))
        elif offset > cur:
            self.conn.execute(_UPDATE_POSITION, {**key, "offset": offset})

    def execute(self, stmt, *args, **kw):
        return self.conn.execute(stmt, *args, **kw)


def _conflict_from(exc: IntegrityError) -> Exception:
    msg = str(exc.orig)
    if "uq_events_stream_version" in msg or "events.stream_id" in msg:
        return ConcurrencyConflict("?", -1, None)
    return exc


def positions_of(db: Database, consumer: str) -> dict[tuple[str, int], int]:
    with db.engine.connect() as c:
        rows = c.execute(sa.select(positions).where(positions.c.consumer == consumer))
        return {(r.topic, r.partition): r.offset for r in rows}

"""A producer's own events brought back into its store after its database was restored from an
older backup.

What it appended after the backup is gone from its store but not from the world: the relay
published it, and the broker and the other services have it. ``xinfang restore`` reads the
service's own topic and stages each event the restored store lacks here (``stage``); the catch-up
(``xinfang.messaging.catchup``) then applies what came from upstream since the backup, in the
order it was recorded, with these events in between:

- a reaction that a handler makes again (the same type on the same stream, caused by the same
  event, or with the same payload where no event caused it: a crossing the ticker fired) is the
  staged one: it is stored with its id, payload and times, and not published again
  (``UnitOfWork.append`` asks ``substitute``);
- an event nobody makes again (a person's command) is stored as it was and projected by the
  service's own-event projection, once the read model it changes is there
  (``UnitOfWork.append_recorded``).

Either way each event ends in the store once, under its own id, and downstream nothing is new.
Stream versions are those of the replay: dense and in order, not necessarily the first ones (no
consumer reads another service's versions).
"""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import Column, MetaData, String, Table, Text

from xinfang.contracts import Envelope, decode, encode
from xinfang.storage.types import UtcDateTime

metadata = MetaData()
recovered_events = Table(
    "recovered_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("stream_id", String(80), nullable=False, index=True),
    Column("event_type", String(64), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("body", Text, nullable=False),
)

_BY_STREAM_TYPE = (sa.select(recovered_events.c.event_id, recovered_events.c.body)
                   .where(recovered_events.c.stream_id == sa.bindparam("k_stream"),
                          recovered_events.c.event_type == sa.bindparam("k_type"))
                   .order_by(recovered_events.c.recorded_at))
_DELETE = recovered_events.delete().where(recovered_events.c.event_id == sa.bindparam("k_event"))


def ensure_table(conn: sa.Connection) -> None:
    """Only a restore needs it: created then, on a database of any schema version."""
    metadata.create_all(conn, checkfirst=True)


def stage(conn: sa.Connection, envs: Iterable[Envelope]) -> int:
    """Stage the events the store lacks (by id); returns how many were staged."""
    from xinfang.storage.sets import one_of
    from xinfang.storage.tables import events

    batch = list({e.event_id: e for e in envs}.values())
    if not batch:
        return 0
    ids = [e.event_id for e in batch]
    known: set[str] = set()
    for where in one_of(conn, events.c.event_id, ids):
        known.update(conn.execute(sa.select(events.c.event_id).where(where)).scalars())
    for where in one_of(conn, recovered_events.c.event_id, ids):
        known.update(conn.execute(sa.select(recovered_events.c.event_id).where(where)).scalars())
    missing = [e for e in batch if e.event_id not in known]
    if missing:
        conn.execute(recovered_events.insert(), [dict(event_id=e.event_id, stream_id=e.case_id,
                                                      event_type=e.event_type, recorded_at=e.recorded_at,
                                                      body=encode(e).decode()) for e in missing])
    return len(missing)


def staged(conn: sa.Connection) -> list[Envelope]:
    """The staged events, oldest first."""
    rows = conn.execute(sa.select(recovered_events.c.body).order_by(recovered_events.c.recorded_at,
                                                                    recovered_events.c.event_id))
    return [decode(r.body) for r in rows]


def is_staged(conn: sa.Connection, event_id: str) -> bool:
    return conn.execute(sa.select(recovered_events.c.event_id)
                        .where(recovered_events.c.event_id == event_id)).first() is not None


def left(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(recovered_events)).scalar() or 0)


def _same(a: Envelope, b: Envelope) -> bool:
    """The same payload as facts: its schema's values (an instant is equal in any time zone)."""
    from xinfang.contracts import registry

    return a.schema_version == b.schema_version and registry.payload(a) == registry.payload(b)


def substitute(conn: sa.Connection, new: Envelope) -> Envelope | None:
    """The staged event that ``new`` makes again, taken out of the stage; None if there is none:
    of the same type and stream, the one with the same cause and payload, else the same cause,
    else the same payload."""
    rows = conn.execute(_BY_STREAM_TYPE, {"k_stream": new.case_id, "k_type": new.event_type}).all()
    if not rows:
        return None
    candidates = [(r.event_id, decode(r.body)) for r in rows]
    same_cause = [(i, e) for i, e in candidates if e.causation_id == new.causation_id]
    chosen = next(((i, e) for i, e in same_cause if _same(e, new)), None)
    if chosen is None and new.causation_id is not None and same_cause:
        chosen = same_cause[0]
    if chosen is None:
        # the same fact from another cause: a consumer of two topics may have heard them in
        # another order than they were recorded (routing's assignment before intake's registration)
        chosen = next(((i, e) for i, e in candidates if _same(e, new)), None)
    if chosen is None:
        return None
    conn.execute(_DELETE, {"k_event": chosen[0]})
    return chosen[1]


def take(conn: sa.Connection, event_id: str) -> None:
    conn.execute(_DELETE, {"k_event": event_id})

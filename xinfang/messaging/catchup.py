"""The catch-up of ``xinfang restore`` for a service that appends its own events (intake, routing,
supervision), run with the service stopped, right after its database was restored from a backup.

The restored database lacks two things: what came from upstream since the backup, and what the
service itself appended since. The first is on the upstream topics after the restored positions;
the second on the service's own topic, staged by ``xinfang.storage.recovery``. Both are applied
here in the order they were recorded (each partition in its own order, merged by ``recorded_at``),
so that every decision is taken again on the state it was first taken on:

- an upstream event is applied as the live consumer would (inbox, handler, in a savepoint); the
  reactions its handler makes are the staged ones (``UnitOfWork.append``), not new events;
- a staged event nobody makes again (a person's command, a crossing the ticker fired) is stored
  as it was and handed to the service's own-event projection, which says False while the read
  model it changes is not there yet (then it is tried again after the next events).

What is still staged at the end was neither made again nor projectable: it is stored as it was
(the store loses nothing) and reported. An upstream event its handler refuses is not recorded;
the restored consumer group starts from the backup's positions, so the live consumer meets it
again and dead-letters it as it would have.
"""
from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import NamedTuple

from xinfang.checkpointing import on_checkpoint
from xinfang.contracts import DecodeError, Envelope, decode
from xinfang.messaging.streams import Subscription
from xinfang.storage import AlreadyApplied, Database, UnitOfWork, checkpoints, recovery

log = logging.getLogger("xinfang.catchup")

# (uow, a staged event just stored again) -> False while what it changes is not there yet
OwnProjection = Callable[[UnitOfWork, Envelope], bool]
CHUNK = 200


class Delivery(NamedTuple):
    topic: str
    partition: int
    offset: int
    envelope: Envelope


@dataclass
class Summary:
    applied: int = 0        # upstream events applied
    skipped: int = 0        # upstream events applied before (the restored inbox has them) or not subscribed
    refused: int = 0        # upstream events a handler refused: the live consumer meets them again
    reproduced: int = 0     # own events a handler made again: stored under their ids, not republished
    replayed: int = 0       # own events stored as they were and projected
    stored_only: list[Envelope] = field(default_factory=list)  # own events stored with no projection


def read_since(consumer, tps, starts: dict, *, until: datetime, idle: float = 2.0,
               on_record: Callable[[], None] | None = None) -> list[list[Delivery]]:
    """Each partition's decodable events from ``starts`` (offset per partition, else 0) up to the
    first one recorded after ``until``, or until nothing came for ``idle`` seconds. End offsets
    are not used: tansu's are wrong."""
    consumer.assign(list(tps))
    for tp in tps:
        consumer.seek(tp, starts.get(tp, 0))
    out: dict = {tp: [] for tp in tps}
    open_ = set(tps)
    last = time.monotonic()
    while open_ and time.monotonic() - last < idle:
        got = consumer.poll(timeout_ms=200)
        for tp, records in got.items():
            if tp not in open_:
                continue
            if records:
                last = time.monotonic()
            for r in records:
                try:
                    env = decode(r.value)
                except DecodeError:
                    continue  # the live consumer dead-letters it, as before
                if env.recorded_at > until:
                    open_.discard(tp)
                    consumer.pause(tp)
                    break
                out[tp].append(Delivery(tp.topic, tp.partition, r.offset, env))
                if on_record:
                    on_record()
    return [out[tp] for tp in tps]


def _chunks(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def catch_up(db: Database, consumer: str, subscriptions: list[Subscription], own: OwnProjection,
             upstream: list[list[Delivery]], *, on_item: Callable[[], None] | None = None) -> Summary:
    """Apply ``upstream`` (one list per partition, each in offset order) and the staged own events,
    merged by the time they were recorded."""
    by_topic = {s.topic: s for s in subscriptions}
    with db.engine.connect() as c:
        staged = [Delivery("", -1, -1, env) for env in recovery.staged(c)]
    merged = heapq.merge(*upstream, staged, key=lambda d: d.envelope.recorded_at)
    done = Summary()
    deferred: list[Envelope] = []
    db.recovering = True
    try:
        for chunk in _chunks(merged, CHUNK):
            with UnitOfWork(db) as uow:
                for d in chunk:
                    if d.partition < 0:
                        if not _own(uow, own, d.envelope, done):
                            deferred.append(d.envelope)
                    else:
                        _upstream(uow, consumer, by_topic[d.topic], d, done)
                    if on_item:
                        on_item()
                deferred = [e for e in deferred if not _own(uow, own, e, done)]
                done.reproduced += uow.reproduced
        while deferred:  # what waited for a read model: until nothing more can be projected
            with UnitOfWork(db) as uow:
                still = [e for e in deferred if not _own(uow, own, e, done)]
            if len(still) == len(deferred):
                break
            deferred = still
        with UnitOfWork(db) as uow:
            for env in deferred:
                if recovery.is_staged(uow.conn, env.event_id):
                    uow.append_recorded(env)
                    done.stored_only.append(env)
    finally:
        db.recovering = False
    return done


def _own(uow: UnitOfWork, own: OwnProjection, env: Envelope, done: Summary) -> bool:
    """Store and project one staged event; True when done (or a handler made it again meanwhile)."""
    if not recovery.is_staged(uow.conn, env.event_id):
        return True
    savepoint = uow.conn.begin_nested()
    try:
        stored = uow.append_recorded(env)
        if env.event_type == checkpoints.EVENT:  # no read model: kept with the others heard
            on_checkpoint(uow, stored)
            projected = True
        else:
            projected = own(uow, stored)
    except Exception as exc:  # tried again later; stored as it was at the end if it never projects
        log.warning("catch-up: %s %s not projected yet (%s)", env.event_type, env.event_id, type(exc).__name__)
        projected = False
    if projected:
        savepoint.commit()
        done.replayed += 1
        return True
    savepoint.rollback()
    return False


def _upstream(uow: UnitOfWork, consumer: str, sub: Subscription, d: Delivery, done: Summary) -> None:
    env = d.envelope
    if sub.event_types is not None and env.event_type not in sub.event_types:
        uow.record_position(consumer, d.topic, d.partition, d.offset)
        done.skipped += 1
        return
    try:
        with uow.conn.begin_nested():
            uow.mark_applied(consumer, env, d.topic, d.partition, d.offset)
            sub.handler(uow, env)
        done.applied += 1
    except AlreadyApplied:
        done.skipped += 1
    except Exception as exc:  # left to the live consumer, which dead-letters it
        log.warning("catch-up: %s %s from %s[%d]@%d refused (%s); the restarted consumer meets it again",
                    env.event_type, env.event_id, d.topic, d.partition, d.offset, type(exc).__name__)
        done.refused += 1

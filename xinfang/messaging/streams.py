"""Faust stream processors for the services: at-least-once, idempotent through the inbox.

Each service declares ``Subscription``s: a topic and a handler ``(uow, envelope) -> None`` that
applies one event to the service's database. The runtime
- decodes and upcasts the envelope; a message that cannot be decoded, or whose handler raises,
  goes to ``<topic>.dlq`` with its topic, partition, offset and error, and processing goes on;
- applies the handler and records the event id in the inbox in the same transaction, so a
  redelivered event changes nothing;
- retries (and never dead-letters) while the database itself is unreachable.

Broker specifics (``profiles``): Faust hard-codes ``fetch_max_wait_ms=1500`` and tansu answers a
fetch on its own polling cycle, so the consumer thread is subclassed to take the profile's wait
(20 ms on tansu); the dead-letter producer batches on Kafka only. On both: no tables, no
transactions, 6 s sessions and 1 s heartbeats, committed offsets as a hint (the inbox decides).
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from xinfang import metrics
from xinfang.contracts import DecodeError, Envelope, decode, dlq_topic
from xinfang.logs import log_context
from xinfang.messaging.profiles import profile
from xinfang.messaging.relay import CHAIN_SEQ_HEADER
from xinfang.storage import AlreadyApplied, Database, UnitOfWork
from xinfang.tracing import kafka_header, kafka_traceparent, span

log = logging.getLogger("xinfang.streams")

BATCH_MAX = int(os.environ.get("XINFANG_BATCH_MAX", "200"))
BATCH_WITHIN = float(os.environ.get("XINFANG_BATCH_WITHIN_MS", "10")) / 1000

Handler = Callable[[UnitOfWork, Envelope], None]
BatchHandler = Callable[[UnitOfWork, list[Envelope]], None]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = _fetch_max_wait_ms()  # read by AIOKafkaConsumer.start()
        return consumer


def _fetch_max_wait_ms() -> int:
    explicit = os.environ.get("XINFANG_FETCH_MAX_WAIT_MS")
    return int(explicit) if explicit else profile().fetch_max_wait_ms


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self):
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class _App(faust.App):
    def _new_transport(self):
        return _Transport(self.conf.broker_consumer, self)


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    traceparent: str | None = None  # the W3C trace context of its Kafka headers (the relay's span)
    chain_seq: int | None = None  # its link in the producer's hash chain (the relay's header)


# the delivery being applied, for a handler that keeps where its event stands in its producer's
# chain (intake's case history); handlers otherwise see the envelope alone
_applying: ContextVar[Message | None] = ContextVar("xinfang_applying", default=None)


def applying_chain_seq() -> int | None:
    m = _applying.get()
    return m.chain_seq if m else None


def _chain_seq(headers) -> int | None:
    value = kafka_header(headers, CHAIN_SEQ_HEADER)
    return int(value) if value and value.isdigit() else None


@dataclass
class Subscription:
    topic: str
    handler: Handler
    # event types this subscription applies; others are skipped without an inbox row
    event_types: frozenset[str] | None = None
    # optional: applies a whole batch at once, with the same effect as ``handler`` on each event in
    # turn (a projection's bulk path). If it raises, the batch is applied again one event at a time,
    # so one bad event is dead-lettered alone.
    batch_handler: BatchHandler | None = None


def with_event(subscriptions: list[Subscription], topic: str, event: str, handler: Handler) -> list[Subscription]:
    """``subscriptions`` with ``event`` of ``topic`` applied by ``handler``: merged into the
    subscription of that topic when there is one (one agent per topic), else a subscription of
    its own. The kernel's events every service keeps (staff revocations, chain checkpoints)."""
    out, merged = [], False
    for s in subscriptions:
        if s.topic != topic:
            out.append(s)
            continue
        merged = True

        def each(uow, env, _h=s.handler):
            (handler if env.event_type == event else _h)(uow, env)

        whole = None
        if s.batch_handler is not None:
            def whole(uow, envs, _b=s.batch_handler):
                rest = []
                for env in envs:
                    if env.event_type == event:
                        handler(uow, env)
                    else:
                        rest.append(env)
                if rest:
                    _b(uow, rest)
        types = None if s.event_types is None else s.event_types | {event}
        out.append(Subscription(s.topic, each, types, whole))
    if not merged:
        out.append(Subscription(topic, handler, frozenset({event})))
    return out


class StreamProcessor:
    """The Kafka entrypoint of one service: a Faust app with one agent per subscribed topic."""

    def __init__(self, service: str, db: Database, bootstrap: str, subscriptions: list[Subscription],
                 *, datadir: str, partitions: int = 4) -> None:
        self.service = service
        self.consumer_name = service
        self.db = db
        self.subscriptions = subscriptions
        self.applied = 0
        self.dead_lettered = 0
        self.app = _App(
            f"xinfang-{service}",
            broker=f"kafka://{bootstrap}",
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=False,
            store="memory://",
            datadir=datadir,
            autodiscover=False,
            processing_guarantee="at_least_once",
            consumer_auto_offset_reset="earliest",
            broker_session_timeout=float(os.environ.get("XINFANG_SESSION_TIMEOUT", "6")),
            broker_heartbeat_interval=1.0,
            broker_request_timeout=30.0,
            broker_commit_interval=1.0,
            **profile().faust_producer,
            topic_partitions=partitions,
            topic_allow_declare=False,
            topic_disable_leader=True,
            stream_wait_empty=False,
        )
        self._dlq: dict[str, faust.TopicT] = {}
        self._apply_lock = threading.Lock()
        for sub in subscriptions:
            self._add_agent(sub)

    def _add_agent(self, sub: Subscription) -> None:
        topic = self.app.topic(sub.topic, key_serializer="raw", value_serializer="raw")
        self._dlq[sub.topic] = self.app.topic(dlq_topic(sub.topic), key_serializer="raw", value_serializer="raw")

        async def agent(stream):
            # up to BATCH_MAX messages, or what came within BATCH_WITHIN: one transaction each
            async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN):
                await self.process_batch(sub, [
                    Message(e.message.topic, e.message.partition, e.message.offset, e.message.key, e.value,
                            kafka_traceparent(e.message.headers), _chain_seq(e.message.headers))
                    for e in events])

        agent.__name__ = f"{self.service}_{sub.topic.replace('.', '_')}"
        self.app.agent(topic, name=agent.__name__)(agent)

    async def process_batch(self, sub: Subscription, messages: list[Message]) -> None:
        todo: list[tuple[Message, Envelope]] = []
        for m in messages:
            try:
                env = decode(m.value)
            except DecodeError as exc:
                await self.dead_letter(m, f"DecodeError: {exc}")
                continue
            if sub.event_types is None or env.event_type in sub.event_types:
                todo.append((m, env))
        # every message of the batch is handled by its end (applied, a duplicate, a type this
        # subscription skips, or dead-lettered): ``positions`` moves past them all, so the lag
        # (end offset - position - 1) falls to 0 even when a partition ends with skipped types
        handled = _highest_offsets(messages)
        if not todo:
            await asyncio.to_thread(self._record_handled, handled)
        delay = 0.2
        conflicts = 0
        batch_metrics = (metrics.BATCH_DURATION.labels(self.service, self.consumer_name, sub.topic),
                         metrics.EVENTS_APPLIED.labels(self.service, self.consumer_name, sub.topic))
        while todo:
            try:
                started = time.perf_counter()
                applied, failed, conflicted = await asyncio.to_thread(self._apply_batch, sub, todo, handled)
                batch_metrics[0].observe(time.perf_counter() - started)
                batch_metrics[1].inc(applied)
            except (OperationalError, DBAPIError) as exc:
                if not _is_transient(exc):
                    for m, _ in todo:
                        await self.dead_letter(m, f"{type(exc).__name__}: {exc.orig}")
                    return
                log.warning("database unavailable applying %d events (%s); retrying in %.1fs",
                            len(todo), type(exc.orig).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.applied += applied
            for (m, _env), error in failed:
                await self.dead_letter(m, error)
            # a concurrent writer got there first (another instance, or the API): the retry sees
            # its row; a conflict that persists is the event's own fault
            todo = conflicted
            conflicts += 1
            if todo and conflicts > 3:
                for m, _ in todo:
                    await self.dead_letter(m, "IntegrityError: conflict persisted over 3 retries")
                return
            if todo:
                await asyncio.sleep(0.05 * conflicts)

    def _record_handled(self, handled: dict[tuple[str, int], int]) -> None:
        """The positions of a batch with nothing to apply (a hint for operators and the lag
        metric: a failure here is logged, never retried)."""
        try:
            with self._apply_lock, UnitOfWork(self.db) as uow:
                self._record_positions(uow, handled)
        except (IntegrityError, OperationalError, DBAPIError) as exc:
            log.info("positions of a skipped batch not recorded (%s)", type(exc).__name__)

    def _record_positions(self, uow: UnitOfWork, handled: dict[tuple[str, int], int] | None) -> None:
        for (topic, partition), offset in (handled or {}).items():
            uow.record_position(self.consumer_name, topic, partition, offset)

    def _apply_batch(self, sub: Subscription, items: list[tuple[Message, Envelope]],
                     handled: dict[tuple[str, int], int] | None = None):
        """Apply a batch in one transaction, each event in its own savepoint: one that fails is
        set aside (dead letter or retry) and the others commit.

        The inbox is read once for the batch and written once after it (per-event inbox rows and
        positions were a third of a consumer's statements). If another instance recorded one of
        these events meanwhile, that write fails: the batch is then applied again with the inbox
        checked event by event."""
        # one batch at a time per service: the agents of different topics touch the same rows
        with self._apply_lock:
            try:
                with UnitOfWork(self.db) as uow:
                    self._record_positions(uow, handled)
                    if sub.batch_handler is not None and len(items) > 1:
                        whole = self._apply_whole(uow, sub, items)
                        if whole is not None:
                            uow.commit()
                            return whole, [], []
                    return self._apply_each(uow, sub, items, inbox_per_event=False)
            except IntegrityError:
                log.info("inbox of a batch of %d from %s written meanwhile: applying event by event",
                         len(items), sub.topic)
            with UnitOfWork(self.db) as uow:
                self._record_positions(uow, handled)
                return self._apply_each(uow, sub, items, inbox_per_event=True)

    def _apply_each(self, uow: UnitOfWork, sub: Subscription, items: list[tuple[Message, Envelope]], *,
                    inbox_per_event: bool):
        applied = 0
        failed: list = []
        conflicted: list = []
        done: set[str] = set() if inbox_per_event else uow.applied_among(
            self.consumer_name, [env.event_id for _, env in items])
        recorded: list[tuple[Envelope, str, int, int]] = []
        for m, env in items:
            if env.event_id in done:
                continue
            # its log lines carry its ids; what the handler appends, the trace of this apply span
            with _event_scope(m, env) as event_span:
                try:
                    with uow.conn.begin_nested():
                        if inbox_per_event:
                            uow.mark_applied(self.consumer_name, env, m.topic, m.partition, m.offset)
                        sub.handler(uow, env)
                    applied += 1
                    done.add(env.event_id)
                    recorded.append((env, m.topic, m.partition, m.offset))
                    log.debug("applied %s %s from %s[%d]@%d", env.event_type, env.event_id,
                              m.topic, m.partition, m.offset)
                except AlreadyApplied:
                    continue
                except IntegrityError:
                    conflicted.append((m, env))
                except OperationalError:
                    raise
                except DBAPIError as exc:
                    if _is_transient(exc):
                        raise
                    failed.append(((m, env), f"{type(exc).__name__}: {exc.orig}"))
                except Exception as exc:  # a handler that cannot apply this event
                    log.exception("cannot apply %s %s from %s[%d]@%d", env.event_type, env.event_id,
                                  m.topic, m.partition, m.offset)
                    if event_span.is_recording():
                        event_span.record_exception(exc)
                    failed.append(((m, env), f"{type(exc).__name__}: {exc}"))
        if not inbox_per_event:
            uow.record_applied(self.consumer_name, recorded)
        uow.commit()
        return applied, failed, conflicted

    def _apply_whole(self, uow: UnitOfWork, sub: Subscription, items: list[tuple[Message, Envelope]]) -> int | None:
        """The batch through ``sub.batch_handler`` in one savepoint; None if it could not be
        applied whole (the savepoint is rolled back and the caller goes one event at a time)."""
        try:
            # one span for the batch: the child of its events' trace if they share one, else linked
            # to each; its lines name the batch's correlation and trace ids
            traces = sorted({tp.split("-")[1] for m, _ in items if (tp := m.traceparent) and tp.count("-") == 3})
            parent = next((m.traceparent for m, _ in items if m.traceparent), None) if len(traces) == 1 else None
            with log_context(correlation_ids=sorted({env.correlation_id for _, env in items}), trace_ids=traces,
                             topic=sub.topic, batch=len(items)), \
                    span(f"apply {sub.topic} batch", kind=SpanKind.CONSUMER, parent=parent,
                         links=[] if parent else [m.traceparent for m, _ in items],
                         attributes={"messaging.system": "kafka", "messaging.batch.message_count": len(items)}):
                with uow.conn.begin_nested():
                    fresh = uow.mark_applied_many(self.consumer_name, [(env, m.topic, m.partition, m.offset)
                                                                       for m, env in items])
                    if fresh and sub.batch_handler is not None:
                        sub.batch_handler(uow, [items[i][1] for i in fresh])
                log.debug("applied a batch of %d from %s", len(fresh), sub.topic)
            return len(fresh)
        except Exception as exc:
            if isinstance(exc, DBAPIError) and _is_transient(exc):  # the database is away: retried whole
                raise
            log.info("batch of %d from %s applied one by one (%s)", len(items), sub.topic, type(exc).__name__)
            return None

    async def dead_letter(self, m: Message, error: str) -> None:
        from xinfang.privacy import redact

        topic, partition, offset, key, value = m.topic, m.partition, m.offset, m.key, m.value

        try:
            text = value.decode("utf-8")
            body = {"value": redact(text)}
        except UnicodeDecodeError:
            body = {"value_base64": base64.b64encode(value).decode()}
        record = {
            "topic": topic, "partition": partition, "offset": offset,
            "key": key.decode("utf-8", "replace") if key else None,
            "consumer": self.consumer_name, "error": redact(error)[:2000],
            "failed_at": datetime.now(UTC).isoformat(), **body,
        }
        log.error("dead-lettered %s[%d]@%d: %s", topic, partition, offset, redact(error)[:300])
        fut = await self._dlq[topic].send(key=key, value=json.dumps(record, ensure_ascii=False).encode())
        await fut
        self.dead_lettered += 1
        metrics.DEAD_LETTERS.labels(self.service, self.consumer_name, topic).inc()

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    @property
    def running(self) -> bool:
        try:
            return bool(self.app.started) and not self.app.should_stop
        except Exception:
            return False


@contextmanager
def _event_scope(m: Message, env: Envelope):
    """Around applying one event: its ids in the log context, and a consumer span continued from
    the traceparent of its Kafka headers."""
    with log_context(correlation_id=env.correlation_id, causation_id=env.causation_id, event_id=env.event_id,
                     event_type=env.event_type, case_id=env.case_id), \
            span(f"apply {env.event_type}", parent=m.traceparent, kind=SpanKind.CONSUMER,
                 attributes={"messaging.system": "kafka", "messaging.source.name": m.topic,
                             "messaging.message.id": env.event_id,
                             "messaging.kafka.offset": m.offset}) as s:
        token = _applying.set(m)
        try:
            yield s
        finally:
            _applying.reset(token)


def _highest_offsets(messages: list[Message]) -> dict[tuple[str, int], int]:
    top: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic, m.partition)
        if m.offset > top.get(key, -1):
            top[key] = m.offset
    return top


def _is_transient(exc: DBAPIError) -> bool:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return True
    return False

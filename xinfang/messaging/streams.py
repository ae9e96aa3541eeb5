"""Faust stream processors for the services: at-least-once, idempotent through the inbox.

Each service declares ``Subscription``s: a topic and a handler ``(uow, envelope) -> None`` that
applies one event to the service's database. The runtime
- decodes and upcasts the envelope; a message that cannot be decoded, or whose handler raises,
  goes to ``<topic>.dlq`` with its topic, partition, offset and error, and processing goes on;
- applies the handler and records the event id in the inbox in the same transaction, so a
  redelivered event changes nothing;
- retries (and never dead-letters) while the database itself is unreachable.

tansu specifics handled here: Faust hard-codes ``fetch_max_wait_ms=1500`` and tansu answers a
fetch on its own polling cycle, so the consumer thread is subclassed to fetch every 20 ms; no
tables, no transactions, no idempotent producer; 6 s sessions and 1 s heartbeats.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from xinfang.contracts import DecodeError, Envelope, decode, dlq_topic
from xinfang.storage import AlreadyApplied, Database, UnitOfWork

log = logging.getLogger("xinfang.streams")

FETCH_MAX_WAIT_MS = int(os.environ.get("XINFANG_FETCH_MAX_WAIT_MS", "20"))

Handler = Callable[[UnitOfWork, Envelope], None]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by AIOKafkaConsumer.start()
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self):
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class _App(faust.App):
    def _new_transport(self):
        return _Transport(self.conf.broker_consumer, self)


@dataclass
class Subscription:
    topic: str
    handler: Handler
    # event types this subscription applies; others are skipped without an inbox row
    event_types: frozenset[str] | None = None


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
            producer_max_batch_size=1,
            producer_linger=0.0,
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
            async for event in stream.events():
                m = event.message
                await self.process(sub, m.topic, m.partition, m.offset, m.key, event.value)

        agent.__name__ = f"{self.service}_{sub.topic.replace('.', '_')}"
        self.app.agent(topic, name=agent.__name__)(agent)

    async def process(self, sub: Subscription, topic: str, partition: int, offset: int,
                      key: bytes | None, value: bytes) -> None:
        try:
            env = decode(value)
        except DecodeError as exc:
            await self.dead_letter(topic, partition, offset, key, value, f"DecodeError: {exc}")
            return
        if sub.event_types is not None and env.event_type not in sub.event_types:
            return
        delay = 0.2
        conflicts = 0
        while True:
            try:
                applied = await asyncio.to_thread(self._apply, sub, env, topic, partition, offset)
                if applied:
                    self.applied += 1
                return
            except IntegrityError as exc:
                # a concurrent writer got there first (another instance, or a write by the API):
                # the retry sees its row; a conflict that persists is the event's own fault
                conflicts += 1
                if conflicts > 3:
                    await self.dead_letter(topic, partition, offset, key, value, f"IntegrityError: {exc.orig}")
                    return
                await asyncio.sleep(0.05 * conflicts)
            except (OperationalError, DBAPIError) as exc:
                if not _is_transient(exc):
                    await self.dead_letter(topic, partition, offset, key, value, f"{type(exc).__name__}: {exc.orig}")
                    return
                log.warning("database unavailable applying %s (%s); retrying in %.1fs",
                            env.event_type, type(exc.orig).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception as exc:  # a handler that cannot apply this event
                log.exception("cannot apply %s %s from %s[%d]@%d", env.event_type, env.event_id, topic, partition, offset)
                await self.dead_letter(topic, partition, offset, key, value, f"{type(exc).__name__}: {exc}")
                return

    def _apply(self, sub: Subscription, env: Envelope, topic: str, partition: int, offset: int) -> bool:
        # one event at a time per service: the agents of different topics touch the same rows
        with self._apply_lock, UnitOfWork(self.db) as uow:
            try:
                uow.mark_applied(self.consumer_name, env, topic, partition, offset)
            except AlreadyApplied:
                uow.conn.rollback()
                return False
            sub.handler(uow, env)
            uow.commit()
        return True

    async def dead_letter(self, topic: str, partition: int, offset: int, key: bytes | None,
                          value: bytes, error: str) -> None:
        from xinfang.privacy import redact

        try:
            text = value.decode("utf-8")
            body = {"value": redact(text)}
        except UnicodeDecodeError:
            body = {"value_base64": base64.b64encode(value).decode()}
        record = {
            "topic": topic, "partition": partition, "offset": offset,
            "key": key.decode("utf-8", "replace") if key else None,
            "consumer": self.consumer_name, "error": redact(error)[:2000],
            "failed_at": datetime.now(timezone.utc).isoformat(), **body,
        }
        log.error("dead-lettered %s[%d]@%d: %s", topic, partition, offset, redact(error)[:300])
        fut = await self._dlq[topic].send(key=key, value=json.dumps(record, ensure_ascii=False).encode())
        await fut
        self.dead_lettered += 1

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


def _is_transient(exc: DBAPIError) -> bool:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return True
    return False

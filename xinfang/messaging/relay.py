"""The outbox relay: publishes committed events to Kafka in commit order, then marks them sent.

At-least-once: a crash between send and mark republishes the row; consumers' inboxes make that
harmless. Woken at once after a commit that appended events, and polling as a fallback.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from kafka import KafkaProducer
from kafka.errors import KafkaError

from xinfang.messaging.profiles import profile
from xinfang.storage.database import Database
from xinfang.storage.tables import event_chain, events, outbox
from xinfang.tracing import end_spans, kafka_headers, start_publish_spans

log = logging.getLogger("xinfang.relay")
CHAIN_SEQ_HEADER = "chain_seq"  # the event's link in its producer's chain: the case history names it
# linked in the transaction that wrote the outbox row, so always there by the time it is read
_SEQ = (sa.select(event_chain.c.seq).join(events, events.c.position == event_chain.c.position)
        .where(events.c.event_id == outbox.c.event_id).scalar_subquery())


class OutboxRelay:
    def __init__(self, db: Database, bootstrap: str, *, batch: int = 500, poll_interval: float = 0.5,
                 client_id: str = "xinfang-relay") -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.batch = batch
        self.poll_interval = poll_interval
        self.client_id = client_id
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: KafkaProducer | None = None
        self.published = 0
        self.last_error: str | None = None
        db.on_events_committed(self._wake.set)

    # -- lifecycle
    def start(self) -> OutboxRelay:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        if self._producer:
            try:
                self._producer.close(timeout=2)
            except Exception:  # pragma: no cover
                pass

    @property
    def healthy(self) -> bool:
        return self._producer is not None and self.last_error is None

    def pending(self) -> int:
        with self.db.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(outbox)
                                 .where(outbox.c.published_at.is_(None))).scalar() or 0)

    def republish_all(self) -> int:
        """Mark every outbox row unpublished (the broker lost its data): consumers dedupe."""
        with self.db.engine.begin() as c:
            n = c.execute(outbox.update().where(outbox.c.published_at.is_not(None)).values(published_at=None)).rowcount
        self._wake.set()
        return n

    # -- work
    def _producer_or_connect(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap, client_id=self.client_id, request_timeout_ms=10000,
                max_block_ms=10000,
                **profile().relay_producer,
            )
        return self._producer

    def _discard_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception:  # pragma: no cover - it is being thrown away
                pass
            self._producer = None

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                n = self.publish_once()
                self.last_error = None
                backoff = 0.2
                if n >= self.batch:
                    continue
            except (KafkaError, OSError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                # the rows are sent again from the outbox: a producer kept would also go on retrying
                # its own copies, writing each of them twice once the broker is back
                self._discard_producer()
                log.warning("relay cannot publish yet: %s (retrying in %.1fs)", self.last_error, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except sa.exc.OperationalError as exc:
                self.last_error = f"database: {exc.orig}"
                log.warning("relay cannot read the outbox: %s", self.last_error)
                self._stop.wait(1.0)
                continue
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def publish_once(self) -> int:
        with self.db.engine.connect() as c:
            rows = c.execute(
                sa.select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.body, outbox.c.event_id,
                          outbox.c.traceparent, _SEQ.label("seq"))
                .where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(self.batch)
            ).all()
            c.rollback()
        if not rows:
            return 0
        producer = self._producer_or_connect()
        # each record carries the context of the span that appended it; one span covers the send
        spans, carried = start_publish_spans([r.topic for r in rows], [r.traceparent for r in rows])
        try:
            futures = [
                producer.send(r.topic, key=r.key.encode(), value=r.body.encode(),
                              headers=[("event_id", r.event_id.encode()), *kafka_headers(tp),
                                       *([(CHAIN_SEQ_HEADER, str(r.seq).encode())] if r.seq else [])])
                for r, tp in zip(rows, carried, strict=True)
            ]
            producer.flush(timeout=15)
            for f in futures:
                f.get(timeout=15)  # raises if any failed: nothing gets marked
        except BaseException as exc:
            end_spans(spans, exc)
            raise
        end_spans(spans)
        with self.db.engine.begin() as c:
            c.execute(outbox.update().where(outbox.c.id.in_([r.id for r in rows]))
                      .values(published_at=datetime.now(UTC)))
        self.published += len(rows)
        return len(rows)


def wait_until_drained(relay: OutboxRelay, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if relay.pending() == 0:
            return True
        time.sleep(0.05)
    return False

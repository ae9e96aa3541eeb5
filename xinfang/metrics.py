"""Prometheus metrics of one process (one service, or the console), on the default registry.

Counters and histograms are updated where the work happens (an HTTP request, a committed append,
a consumed batch, a dead letter, a fired deadline crossing, a refused token): each update is a
dictionary lookup and an addition, no I/O. Whatever needs the database or the broker (the outbox
backlog, the consumers' lag) is collected only when ``/metrics`` is scraped, with short timeouts.

Names follow Prometheus' conventions: ``xinfang_`` prefix, base units (seconds), ``_total`` for
counters; labels are bounded (service, route template, method, status, topic, partition,
consumer, stage, reason), never a case id or a user name.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("xinfang.metrics")

# the service this process is; set once by the runtime (or the console) before any work
_service = "unknown"


def set_service(name: str) -> None:
    global _service
    _service = name


def service() -> str:
    return _service


HTTP_REQUESTS = Counter(
    "xinfang_http_requests_total", "HTTP requests answered, by route template, method and status",
    ["service", "route", "method", "status"])
HTTP_DURATION = Histogram(
    "xinfang_http_request_duration_seconds", "Time to answer an HTTP request, by route template and method",
    ["service", "route", "method"])
EVENTS_APPENDED = Counter(
    "xinfang_events_appended_total", "Events appended to the service's event store (counted at commit)",
    ["service"])
EVENTS_APPLIED = Counter(
    "xinfang_consumer_events_applied_total", "Consumed events applied (duplicates and skipped types excluded)",
    ["service", "consumer", "topic"])
BATCH_DURATION = Histogram(
    "xinfang_consumer_batch_duration_seconds", "Time to apply one consumed batch in its transaction",
    ["service", "consumer", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
DEAD_LETTERS = Counter(
    "xinfang_consumer_dead_letters_total", "Messages sent to <topic>.dlq, by the topic they came from",
    ["service", "consumer", "topic"])
DEADLINE_FIRE_DELAY = Histogram(
    "xinfang_deadline_fire_delay_seconds",
    "How late the ticker fired a due deadline crossing (fired at minus fire_at), by clock stage; "
    "past-dated cases fire crossings long past",
    ["service", "stage"],
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0))
TOKENS_REFUSED = Counter(
    "xinfang_auth_tokens_refused_total", "Bearer tokens refused with 401, by reason (missing, invalid, revoked)",
    ["service", "reason"])


def events_appended(n: int) -> None:
    EVENTS_APPENDED.labels(_service).inc(n)


def token_refused(reason: str) -> None:
    TOKENS_REFUSED.labels(_service, reason).inc()


def deadline_fired(stage: str, fire_at: datetime, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    if fire_at.tzinfo is None:
        fire_at = fire_at.replace(tzinfo=UTC)
    DEADLINE_FIRE_DELAY.labels(_service, stage).observe(max(0.0, (now - fire_at).total_seconds()))


# ------------------------------------------------------------------ HTTP


class HttpMetricsMiddleware:
    """Pure ASGI middleware: counts and times each HTTP request by its route's path template
    (``/api/v1/cases/{case_id}``, never the raw URL); a request no route matched is ``unmatched``."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        root_path = scope.get("root_path", "")

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None)
            if template is None:  # a mounted app (the console's /static) moves root_path, sets no route
                mounted = scope.get("root_path", "")
                template = f"{mounted[len(root_path):]}/{{path}}" if len(mounted) > len(root_path) else "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(_service, template, method, str(status[0])).inc()
            HTTP_DURATION.labels(_service, template, method).observe(time.perf_counter() - start)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type (runs the scrape-time
    collectors: call it in a worker thread)."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def install(app, service_name: str) -> None:
    """``/metrics`` and the HTTP middleware on a FastAPI app."""
    import asyncio

    from fastapi.responses import Response

    set_service(service_name)
    app.add_middleware(HttpMetricsMiddleware)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics():
        body, content_type = await asyncio.to_thread(exposition)
        return Response(body, media_type=content_type)


# ------------------------------------------------------------------ scrape-time collectors

_collectors: dict[str, Collector] = {}
_collectors_lock = threading.Lock()


def register_collector(key: str, collector: Collector) -> None:
    """Register a scrape-time collector once per key: a runtime built again in the same process
    (tests) replaces its earlier one rather than doubling its samples."""
    with _collectors_lock:
        old = _collectors.pop(key, None)
        if old is not None:
            try:
                REGISTRY.unregister(old)
            except KeyError:
                pass
        REGISTRY.register(collector)
        _collectors[key] = collector


OUTBOX_COUNT_CAP = 100_000


class OutboxCollector(Collector):
    """The outbox's unpublished rows and the oldest one's age, read at scrape time on the
    ``ix_outbox_unpublished`` index (counted up to OUTBOX_COUNT_CAP)."""

    def __init__(self, service_name: str, db) -> None:
        self.service_name, self.db = service_name, db

    def describe(self) -> Iterable:
        return []  # no collect() at registration: that would query the database

    def collect(self) -> Iterable:
        import sqlalchemy as sa

        from xinfang.storage.tables import outbox

        pending = GaugeMetricFamily(
            "xinfang_outbox_pending_events",
            f"Outbox rows not yet published to the broker (counted up to {OUTBOX_COUNT_CAP})", labels=["service"])
        age = GaugeMetricFamily(
            "xinfang_outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none waits)", labels=["service"])
        unpublished = outbox.c.published_at.is_(None)
        try:
            with self.db.read() as c:
                n = c.execute(sa.select(sa.func.count()).select_from(
                    sa.select(outbox.c.id).where(unpublished).limit(OUTBOX_COUNT_CAP).subquery())).scalar()
                oldest = c.execute(sa.select(outbox.c.created_at).where(unpublished)
                                   .order_by(outbox.c.id).limit(1)).scalar()
        except Exception as exc:  # the database is away: no samples, the scrape still answers
            log.debug("outbox metrics: %s", exc)
            return
        pending.add_metric([self.service_name], float(n or 0))
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age.add_metric([self.service_name],
                       max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest is not None else 0.0)
        yield pending
        yield age


LAG_HELP = ("Messages the consumer has still to handle per topic and partition: the broker's end "
            "offset minus (the positions table's offset + 1). On Apache Kafka the end offset is the "
            "broker's ListOffsets answer; on the embedded tansu, whose 'latest' offset is the base "
            "offset of the last record batch + 1, it is the last record fetched from there + 1")


class ConsumerLagCollector(Collector):
    """Consumer lag at scrape time: end offsets from the broker (one KafkaConsumer kept for the
    scrapes, no group), positions from the service's ``positions`` table.

    tansu answers ListOffsets "latest" with the last batch's base offset + 1, not the end of the
    partition (docs/architecture.md, "Brokers"): there, the last batch is fetched from that
    offset and the end is its highest record's offset + 1."""

    def __init__(self, service_name: str, consumer: str, db, bootstrap: str, topics: list[str], *,
                 broker_kind: str, partitions: int, timeout_s: float = 2.0) -> None:
        self.service_name, self.consumer, self.db, self.bootstrap = service_name, consumer, db, bootstrap
        self.topics, self.broker_kind, self.partitions, self.timeout_s = topics, broker_kind, partitions, timeout_s
        self._kafka = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def describe(self) -> Iterable:
        return []

    def _client(self):
        if self._kafka is None:
            from kafka import KafkaConsumer

            ms = int(self.timeout_s * 1000)
            self._kafka = KafkaConsumer(
                bootstrap_servers=self.bootstrap, client_id=f"xinfang-{self.service_name}-lag", group_id=None,
                enable_auto_commit=False, request_timeout_ms=max(ms, 1000) + 500, bootstrap_timeout_ms=ms,
                fetch_max_wait_ms=20, max_poll_records=100_000, connections_max_idle_ms=540_000,
                reconnect_backoff_max_ms=1000)
        return self._kafka

    def _discard(self) -> None:
        if self._kafka is not None:
            try:
                self._kafka.close(autocommit=False)
            except Exception:  # pragma: no cover - thrown away anyway
                pass
            self._kafka = None

    def end_offsets(self) -> dict[tuple[str, int], int]:
        from kafka import TopicPartition

        client = self._client()
        tps = [TopicPartition(t, p) for t in self.topics for p in range(self.partitions)]
        ends = {tp: int(o) for tp, o in client.end_offsets(tps, timeout_ms=int(self.timeout_s * 1000)).items()}
        if self.broker_kind == "tansu":
            ends = self._tansu_ends(client, ends)
        return {(tp.topic, tp.partition): o for tp, o in ends.items()}

    def _tansu_ends(self, client, ends: dict) -> dict:
        started = [tp for tp, o in ends.items() if o > 0]
        if not started:
            return ends
        client.assign(started)
        try:
            for tp in started:
                client.seek(tp, ends[tp] - 1)  # the last batch's base offset
            waiting = set(started)
            deadline = time.monotonic() + self.timeout_s
            while waiting and time.monotonic() < deadline:
                for tp, records in client.poll(timeout_ms=100).items():
                    if records:
                        ends[tp] = max(ends[tp], max(r.offset for r in records) + 1)
                    if tp in waiting:
                        waiting.discard(tp)
                        client.pause(tp)
        finally:
            client.unsubscribe()
        return ends

    def probe(self) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]] | None:
        """(end offsets, positions), or None when the broker or the database did not answer."""
        from xinfang.storage.unit_of_work import positions_of

        if not self._lock.acquire(timeout=self.timeout_s):
            return None  # another scrape is probing
        try:
            positions = positions_of(self.db, self.consumer)
            ends = self.end_offsets()
            self.last_error = None
            return ends, positions
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            # said once while it lasts: a broker away for an hour logs one line, not one a scrape
            (log.debug if error == self.last_error else log.warning)(
                "consumer lag of %s not read: %s", self.consumer, error)
            self.last_error = error
            self._discard()
            return None
        finally:
            self._lock.release()

    def collect(self) -> Iterable:
        result = self.probe()
        ok = GaugeMetricFamily("xinfang_consumer_lag_probe_success",
                               "1 if the last scrape read the broker's end offsets and the positions, else 0",
                               labels=["service", "consumer"])
        ok.add_metric([self.service_name, self.consumer], 0.0 if result is None else 1.0)
        yield ok
        if result is None:
            return
        ends, positions = result
        lag = GaugeMetricFamily("xinfang_consumer_lag_messages", LAG_HELP,
                                labels=["service", "consumer", "topic", "partition"])
        for (topic, partition), end in sorted(ends.items()):
            applied = positions.get((topic, partition), -1)
            # a broker that started empty (tansu) numbers from 0 again below the old positions
            lag.add_metric([self.service_name, self.consumer, topic, str(partition)],
                           float(max(0, end - (applied + 1))))
        yield lag

    def close(self) -> None:
        with self._lock:
            self._discard()

"""The process of one service: its database, outbox relay and stream processor, started and
stopped with the HTTP app. ``bootstrap`` of each service builds one of these."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from xinfang import staff
from xinfang.auth import current_user_dependency
from xinfang.checkpointing import Checkpointer, with_checkpoints
from xinfang.config import ServiceSettings, service_settings, settings
from xinfang.messaging.relay import OutboxRelay
from xinfang.messaging.streams import StreamProcessor, Subscription
from xinfang.security import TokenVerifier, verify_key_from_env
from xinfang.storage import Database, checkpoints

log = logging.getLogger("xinfang.runtime")


class ServiceRuntime:
    def __init__(self, name: str, *, migrations: Path, subscriptions: list[Subscription] | None = None,
                 publishes: bool = True, service: ServiceSettings | None = None,
                 bootstrap: str | None = None, revocations_from_routing: bool = True) -> None:
        """``revocations_from_routing``: consume routing's StaffAccessRevoked (every service but
        routing, which records its own in the same transaction)."""
        self.name = name
        self.cfg = service or service_settings(name)
        self.db = Database(self.cfg.database_url)
        self.verifier = TokenVerifier(verify_key_from_env())
        self.current_user = current_user_dependency(self.verifier, staff.revoked_at(self.db))
        self.health_details: list = []  # callables returning a dict merged into /health
        self.db.migrate(migrations)
        self.bootstrap = bootstrap or settings().kafka_bootstrap_servers
        if not self.bootstrap:
            raise SystemExit(
                f"{name}: KAFKA_BOOTSTRAP_SERVERS is not set. Start everything with `xinfang up` "
                f"(it starts the embedded broker) or point KAFKA_BOOTSTRAP_SERVERS at a Kafka.\n"
                f"{name}：未设置 KAFKA_BOOTSTRAP_SERVERS。请用 `xinfang up` 启动，或指向已有的 Kafka。")
        self.relay = OutboxRelay(self.db, self.bootstrap, client_id=f"xinfang-{name}-relay") if publishes else None
        self.subscriptions = subscriptions or []
        if revocations_from_routing:
            self.subscriptions = staff.with_revocations(self.subscriptions)
        self.subscriptions = with_checkpoints(self.subscriptions, name)
        self.checkpointer: Checkpointer | None = None
        if publishes:
            s = settings()
            self.checkpointer = Checkpointer(self.db, name, checkpoints.signing_key(name, s.data_dir),
                                             every_events=s.checkpoint_events, every_seconds=s.checkpoint_seconds)
            self.health_details.append(lambda: {"checkpoints_signed": self.checkpointer.signed,
                                                "checkpoint_error": self.checkpointer.last_error})
        self.streams: StreamProcessor | None = None
        if self.subscriptions:
            datadir = settings().data_dir / "faust"
            datadir.mkdir(parents=True, exist_ok=True)
            self.streams = StreamProcessor(name, self.db, self.bootstrap, self.subscriptions,
                                           datadir=str(datadir), partitions=settings().topic_partitions)
        self._install_metrics()

    def _install_metrics(self) -> None:
        """The scrape-time collectors: the outbox backlog, the consumer's lag (``xinfang.metrics``)."""
        from xinfang import metrics

        metrics.set_service(self.name)
        if self.relay:
            metrics.register_collector(f"outbox:{self.name}", metrics.OutboxCollector(self.name, self.db))
        self.lag: metrics.ConsumerLagCollector | None = None
        if self.streams:
            self.lag = metrics.ConsumerLagCollector(
                self.name, self.streams.consumer_name, self.db, self.bootstrap or "",
                sorted({s.topic for s in self.subscriptions}), broker_kind=settings().broker,
                partitions=settings().topic_partitions)
            metrics.register_collector(f"lag:{self.name}", self.lag)

    async def start(self) -> None:
        if self.relay:
            if settings().republish_on_start:
                n = self.relay.republish_all()
                if n:
                    log.info("broker started empty: republishing %d stored events", n)
            self.relay.start()
        if self.checkpointer:
            self.checkpointer.start()
        if self.streams:
            await self.streams.start()
        log.info("%s ready on http://%s:%d (database %s)", self.name, self.cfg.host, self.cfg.port, self.db.dialect)

    async def stop(self) -> None:
        if self.streams:
            try:
                await self.streams.stop()
            except Exception:  # pragma: no cover - shutting down anyway
                log.exception("stopping stream processor")
        if self.checkpointer:
            self.checkpointer.stop()
        if self.relay:
            self.relay.stop()
        if self.lag:
            self.lag.close()
        self.db.dispose()

    def health(self) -> dict:
        db_ok = self.db.ping()
        report: dict = {"service": self.name, "database": "ok" if db_ok else "unreachable"}
        ok = db_ok
        if self.relay:
            pending = self.relay.pending() if db_ok else None
            report["outbox_pending"] = pending
            report["relay"] = "ok" if self.relay.last_error is None else self.relay.last_error
            ok = ok and self.relay.last_error is None
        if self.streams:
            running = self.streams.running
            report["consumer"] = "running" if running else "stopped"
            report["applied"] = self.streams.applied
            report["dead_lettered"] = self.streams.dead_lettered
            ok = ok and running
        for detail in self.health_details:
            try:
                report.update(detail())
            except Exception as exc:  # a detail must never break health itself
                report["detail_error"] = type(exc).__name__
        report["broker"] = self.bootstrap
        report["status"] = "ok" if ok else "degraded"
        return report


    def readiness(self) -> dict:
        """What ``/readyz`` answers: the database reachable, the broker reachable (the relay
        publishing; for a service without a relay, the broker answering the lag probe), the
        consumer running. ``failing`` names what is not."""
        report: dict = {"service": self.name}
        failing: list[str] = []
        db_ok = self.db.ping()
        report["database"] = "ok" if db_ok else "unreachable"
        if not db_ok:
            failing.append("database")
        if self.relay:
            report["broker"] = "ok" if self.relay.last_error is None else self.relay.last_error
            if self.relay.last_error is not None:
                failing.append("broker")
        elif self.lag and db_ok:
            reachable = self.lag.probe() is not None
            report["broker"] = "ok" if reachable else (self.lag.last_error or "unreachable")
            if not reachable:
                failing.append("broker")
        if self.streams:
            running = self.streams.running
            report["consumer"] = "running" if running else "stopped"
            if not running:
                failing.append("consumer")
        report["failing"] = failing
        report["status"] = "not_ready" if failing else "ready"
        return report


def serve(app, cfg: ServiceSettings) -> None:
    import uvicorn

    from xinfang import tracing
    from xinfang.logs import configure

    configure(cfg.name, settings().log_level)
    tracing.setup(cfg.name)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_config=None, access_log=False,
                timeout_graceful_shutdown=5)


def main_for(build) -> None:
    """``python -m services.<name>``: build the app and serve it."""
    from xinfang.logs import configure

    cfg_name = build.__module__.split(".")[1]
    configure(cfg_name, settings().log_level)
    from xinfang import tracing

    tracing.setup(cfg_name)  # before build: the runtime's first appends (the demo seed) are traced too
    try:
        app, runtime = build()
    except SystemExit as exc:
        from xinfang.logs import log_format

        if log_format() == "json":  # one JSON line as every other, not bare text
            log.error("%s", exc)
        else:
            print(exc, file=sys.stderr)
        raise
    serve(app, runtime.cfg)
    tracing.shutdown()  # the spans still batched for the exporter
    os._exit(0)  # Faust leaves non-daemon threads behind; the work is done

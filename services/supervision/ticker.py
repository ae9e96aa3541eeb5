"""The warning/expiry engine's clock: a thread that fires the due checkpoints about once a second.

All its state is in the database (the ``checkpoints`` table), so a restart simply carries on:
a crossing fired before the crash was deleted in the same transaction as its event, one not
fired yet is still there. Each tick reads ``fire_at <= now ORDER BY fire_at LIMIT n`` on an index.
"""
from __future__ import annotations

import logging
import threading

from services.supervision import handlers
from xinfang.storage import Database

log = logging.getLogger("xinfang.supervision.ticker")


class Ticker:
    def __init__(self, db: Database, interval_s: float = 1.0, batch: int = 500) -> None:
        self.db, self.interval_s, self.batch = db, interval_s, batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="supervision-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = handlers.fire_due(self.db, limit=self.batch)
                self.fired += n
                self.last_error = None
                if n >= self.batch:
                    continue  # a backlog (e.g. past-dated imports): keep going at once
            except Exception as exc:  # the database may be away for a while: try again next tick
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("ticker")
            self._stop.wait(self.interval_s)

"""The warning/expiry engine's clock: a thread that fires the due checkpoints about once a second.

All its state is in the database (the ``checkpoints`` table), so a restart simply carries on:
a crossing fired before the crash was deleted in the same transaction as its event, one not
fired yet is still there. Each tick reads ``fire_at <= now ORDER BY fire_at LIMIT n`` on an index.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from services.supervision import adapters, handlers
from xinfang import metrics
from xinfang.storage import ConcurrencyConflict, Database, UnitOfWork

log = logging.getLogger("xinfang.supervision.ticker")
engine_log = logging.getLogger("xinfang.supervision")


def fire_due(db: Database, now: datetime | None = None, limit: int = 500) -> int:
    """One tick: fire the crossings due by ``now``, oldest first, one transaction each. Costs one
    index range scan on ``fire_at`` plus the due rows: never a pass over the open cases."""
    now = now or adapters.utcnow()
    with db.read() as c:
        due = adapters.due_checkpoints(c, now, limit)
    fired = 0
    late: list[tuple[str, datetime]] = []  # (stage, fire_at) of the crossings fired, once committed
    for cp_id in due:
        try:
            with UnitOfWork(db) as uow:
                cp = adapters.checkpoint(uow, cp_id)
                if cp is None:
                    continue
                office = adapters.office_of(uow, cp) or "000000000000"  # neither case nor order known: national
                if handlers.fire_crossing(uow, cp, office):
                    fired += 1
                    late.append((cp["stage"], cp["fire_at"]))
        except ConcurrencyConflict:
            late.clear()  # rolled back: not fired
            engine_log.info("checkpoint %s: the case moved meanwhile, retrying next tick", cp_id)
            continue
        for stage, fire_at in late:
            metrics.deadline_fired(stage, fire_at)
        late.clear()
    return fired


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
                n = fire_due(self.db, limit=self.batch)
                self.fired += n
                self.last_error = None
                if n >= self.batch:
                    continue  # a backlog (e.g. past-dated imports): keep going at once
            except Exception as exc:  # the database may be away for a while: try again next tick
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("ticker")
            self._stop.wait(self.interval_s)

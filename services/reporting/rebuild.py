"""Rebuild the read model from the raw fact log into a fresh generation, while the live service
keeps answering from the active one; then switch the pointer and drop the old generation.

The log is append-only and is itself the projection's input (the live handler derives each fact
from the log row it has just written), so a rebuild derives exactly what the live path derived.
Switching: the rebuild locks the pointer row, applies the log rows its new generation still lacks,
moves the pointer and commits. A live write reads the pointer under a shared lock in the same
transaction as its log row, so it either committed before the switch (and its row is caught up)
or waits for the switch and writes into the new generation.
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from services.reporting.adapters import (
    report_cases,
    report_facts,
    report_generation,
    report_log,
    report_months,
    report_months_rules,
)
from services.reporting.projections import insert_facts
from xinfang.storage import Database

CHUNK = 5000
LOG_COLS = (report_log.c.seq, report_log.c.event_id, report_log.c.event_type, report_log.c.case_id,
            report_log.c.office, report_log.c.occurred_at, report_log.c.recorded_at, report_log.c.facts)


def _pointer(c, *, lock: bool):
    q = sa.select(report_generation).where(report_generation.c.id == 1)
    if lock and c.dialect.name == "postgresql":
        q = q.with_for_update()
    return c.execute(q).mappings().one()


def rebuild(db: Database, *, progress: Callable[[int, int], None] = lambda done, total: None,
            before_switch: Callable[[], None] = lambda: None) -> dict:
    """Returns {"generation", "previous", "events"}. ``progress(done, total)`` after each chunk."""
    with db.engine.begin() as c:
        p = _pointer(c, lock=True)
        top = c.execute(sa.select(sa.func.max(report_facts.c.generation))).scalar() or 0
        new = max(p["active"], p["building"] or 0, top) + 1
        c.execute(report_generation.update().where(report_generation.c.id == 1).values(building=new))
        total = c.execute(sa.select(sa.func.count()).select_from(report_log)).scalar()
    done, last = 0, 0
    while True:
        with db.engine.begin() as c:
            rows = c.execute(sa.select(*LOG_COLS).where(report_log.c.seq > last)
                             .order_by(report_log.c.seq).limit(CHUNK)).mappings().all()
            if not rows:
                break
            insert_facts(c, [dict(r) for r in rows], new)
        last = rows[-1]["seq"]
        done += len(rows)
        progress(done, max(total, done))
    before_switch()
    with db.engine.begin() as c:
        # the write lock first (SQLite: the database; PostgreSQL: the pointer row)
        c.execute(report_generation.update().where(report_generation.c.id == 1).values(building=new))
        p = _pointer(c, lock=True)
        have = sa.select(report_facts.c.event_id).where(report_facts.c.generation == new,
                                                        report_facts.c.event_id == report_log.c.event_id)
        missing = c.execute(sa.select(*LOG_COLS).where(~sa.exists(have))).mappings().all()
        if missing:
            insert_facts(c, [dict(r) for r in missing], new)
        c.execute(report_generation.update().where(report_generation.c.id == 1).values(active=new, building=None))
    done += len(missing)
    progress(done, done)
    with db.engine.begin() as c:
        c.execute(report_facts.delete().where(report_facts.c.generation != new))
        c.execute(report_cases.delete().where(report_cases.c.generation != new))
        c.execute(report_months.delete().where(report_months.c.generation != new))
        c.execute(report_months_rules.delete().where(report_months_rules.c.generation != new))
    return {"generation": new, "previous": p["active"], "events": done}

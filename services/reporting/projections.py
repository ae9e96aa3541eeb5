"""Reporting's projection: every consumed event becomes one row of the raw fact log and one typed
fact row. Nothing is updated in place, so the order in which the topics deliver does not matter;
the rates are computed at query time. Reporting owns no events.

No personal data: only the whitelisted payload fields below are kept (never petitioners, summary,
notice, reason or reply text).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Iterable

import sqlalchemy as sa

from services.reporting.adapters import report_facts, report_generation, report_log
from services.reporting.rates import rules
from xinfang.contracts import Envelope
from xinfang.storage import UnitOfWork
from xinfang.storage.sets import one_of
from xinfang.storage.types import UtcDateTime

KEEP = {
    "CaseRegistered": ("channel", "received_at", "headcount", "purpose", "category_code", "division_code",
                       "flags", "repeat_of"),
    "CaseAccepted": ("procedure", "unit_id"),
    "CaseNotAccepted": ("decision", "unit_id"),
    "HandlingExtended": ("days",),
    "CaseReplied": ("outcome", "stage"),
    "ReviewRequested": ("level",),
    "CaseEvaluated": ("rating",),
    "CaseClosed": (),
    "CaseAssigned": ("unit_id", "mode", "stage"),
    "DeadlineSet": ("stage", "starts_at", "due_at", "limit_days", "day_kind"),
}
CONSUMED = frozenset(KEEP)
_RULES = rules()
FLAGS = ("first_petition", "repeat", "skip_level", "collective", "law_related")


def log_row(env: Envelope, *, keep_dict: bool = False) -> dict:
    """The raw fact log row of an event: its times and its non-personal payload fields
    (``keep_dict``: also under "_facts" as a dict, saving the bulk path a JSON round trip)."""
    facts = {k: env.payload[k] for k in KEEP[env.event_type] if env.payload.get(k) is not None}
    row = dict(event_id=env.event_id, event_type=env.event_type, case_id=env.case_id, office=env.office,
               occurred_at=env.occurred_at, recorded_at=env.recorded_at,
               facts=json.dumps(facts, ensure_ascii=False, sort_keys=True, default=str))
    if keep_dict:
        row["_facts"] = facts
    return row


def _dt(v):
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(v)


def fact_row(log: dict, generation: int, acceptance_limit_days: int) -> dict:
    """The typed fact of one raw log row (a dict with the log's columns)."""
    p = log["_facts"] if "_facts" in log else json.loads(log["facts"])
    kind = log["event_type"]
    row = dict(generation=generation, event_id=log["event_id"], kind=kind, case_id=log["case_id"],
               office=log["office"], occurred_at=log["occurred_at"], recorded_at=log["recorded_at"],
               stage=None, unit_id=None, due_at=None, rating=None, decision=None, division_code=None,
               category_code=None, channel=None, purpose=None, headcount=None, received_at=None,
               first_petition=None, repeat=None, skip_level=None, collective=None, law_related=None,
               repeat_of=None, superseded_at=None)
    if kind == "CaseRegistered":
        received = _dt(p["received_at"])
        flags = set(p.get("flags") or ())
        row.update(division_code=p["division_code"], category_code=p["category_code"], channel=p["channel"],
                   purpose=p["purpose"], headcount=int(p["headcount"]), received_at=received,
                   repeat_of=p.get("repeat_of"),
                   # the legal acceptance limit, used when supervision set no acceptance deadline
                   due_at=received + timedelta(days=acceptance_limit_days),
                   **{f: int(f in flags) for f in FLAGS})
    elif kind == "CaseAccepted":
        row.update(decision="accepted", unit_id=p.get("unit_id"))
    elif kind == "CaseNotAccepted":
        row.update(decision=p["decision"], unit_id=p.get("unit_id"))
    elif kind == "CaseReplied":
        row.update(stage=p.get("stage", "handling"))
    elif kind == "ReviewRequested":
        row.update(stage=p["level"])
    elif kind == "CaseEvaluated":
        row.update(rating=p["rating"])
    elif kind == "CaseAssigned":
        row.update(unit_id=p["unit_id"], stage=p.get("stage", "handling"))
    elif kind == "DeadlineSet":
        row.update(stage=p["stage"], due_at=_dt(p["due_at"]))
    return row


def active_generation(conn: sa.Connection, *, for_write: bool = False) -> int:
    q = sa.select(report_generation.c.active).where(report_generation.c.id == 1)
    if for_write and conn.dialect.name == "postgresql":
        q = q.with_for_update(read=True)  # a rebuild switching generations waits for this write
    return int(conn.execute(q).scalar_one())


# a later one of these (same case, same stage) supersedes the earlier one
SUPERSEDABLE = ("DeadlineSet", "CaseAssigned", "CaseEvaluated")


def _later_known(rows: list[dict]) -> dict[str, datetime | None]:
    """event id -> ``superseded_at``: the earliest ``recorded_at`` of a later fact of the same case,
    kind and stage ("later": by occurred_at, then recorded_at, then event id). A function of the
    facts alone, so any delivery order and any rebuild give the same."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["case_id"], r["kind"], r["stage"] or ""), []).append(r)
    out: dict[str, datetime | None] = {}
    for g in groups.values():
        g.sort(key=lambda r: (r["occurred_at"], r["recorded_at"], r["event_id"]))
        earliest = None
        for r in reversed(g):
            out[r["event_id"]] = earliest
            earliest = r["recorded_at"] if earliest is None else min(earliest, r["recorded_at"])
    return out


def supersede(conn: sa.Connection, generation: int, new: list[dict]) -> None:
    """Set ``superseded_at`` on the new fact rows (before they are inserted) and correct it on the
    stored facts of the same cases that they supersede."""
    todo = [r for r in new if r["kind"] in SUPERSEDABLE]
    if not todo:
        return
    t = report_facts
    stored: list[dict] = []
    for in_cases in one_of(conn, t.c.case_id, sorted({r["case_id"] for r in todo})):
        stored += [dict(m) for m in conn.execute(
            sa.select(t.c.event_id, t.c.case_id, t.c.kind, t.c.stage, t.c.occurred_at, t.c.recorded_at,
                      t.c.superseded_at)
            .where(t.c.generation == generation, t.c.kind.in_(SUPERSEDABLE), in_cases)
        ).mappings()]
    later = _later_known(stored + todo)
    for r in todo:
        r["superseded_at"] = later[r["event_id"]]
    changed = [{"eid": r["event_id"], "sup": later[r["event_id"]]} for r in stored
               if later[r["event_id"]] != r["superseded_at"]]
    if changed:
        conn.execute(t.update().where(t.c.generation == generation, t.c.event_id == sa.bindparam("eid"))
                     .values(superseded_at=sa.bindparam("sup")), changed)


def on_event(uow: UnitOfWork, env: Envelope) -> None:
    """The live handler: log the event, and add its fact to the generation the queries read."""
    log = log_row(env)
    uow.execute(report_log.insert().values(**log))
    gen = active_generation(uow.conn, for_write=True)  # per event: a savepoint rolled back frees its lock
    row = fact_row(log, gen, _RULES.acceptance_limit_days)
    supersede(uow.conn, gen, [row])
    uow.execute(report_facts.insert().values(**row))


def on_events(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    """The live handler for a whole batch: the same rows as ``on_event`` on each, in bulk."""
    apply_many(uow.conn, envelopes)


def _raw_insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Many rows at once, past SQLAlchemy's per-value processing: COPY on PostgreSQL, executemany
    on SQLite (UTC datetimes as SQLAlchemy's SQLite text form, which the queries compare)."""
    cols = [c.name for c in table.columns if c.name in rows[0]]
    names = ", ".join(f'"{c}"' for c in cols)
    cur = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row([r[c] for c in cols])
        else:
            times = {c.name for c in table.columns if isinstance(c.type, UtcDateTime)}

            def text(x):
                if x is None:
                    return None
                if x.utcoffset():
                    x = x.astimezone(timezone.utc)
                return x.replace(tzinfo=None).isoformat(" ", "microseconds")
            conv = [(c, c in times) for c in cols]
            cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(cols))})",
                            [tuple(text(r[c]) if t else r[c] for c, t in conv) for r in rows])
    finally:
        cur.close()


def insert_facts(conn: sa.Connection, logs: list[dict], generation: int) -> None:
    """The facts of many log rows into one generation, then their supersession."""
    days = rules().acceptance_limit_days
    rows = [fact_row(r, generation, days) for r in logs]
    supersede(conn, generation, rows)
    _raw_insert(conn, report_facts, rows)


def apply_many(conn: sa.Connection, envelopes: Iterable[Envelope], generation: int | None = None) -> int:
    """The batched path (replay, bench): many events in one transaction with bulk inserts.
    Events already in the log are skipped, so a replay can be repeated."""
    logs = [log_row(e, keep_dict=True) for e in envelopes]
    if not logs:
        return 0
    seen = set()
    for known in one_of(conn, report_log.c.event_id, [r["event_id"] for r in logs]):
        seen.update(conn.execute(sa.select(report_log.c.event_id).where(known)).scalars())
    logs = [r for r in logs if r["event_id"] not in seen]
    if not logs:
        return 0
    gen = generation if generation is not None else active_generation(conn, for_write=True)
    _raw_insert(conn, report_log, logs)
    insert_facts(conn, logs, gen)
    return len(logs)

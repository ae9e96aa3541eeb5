"""Reporting's projection: every consumed event becomes one row of the raw fact log and one typed
fact row. Nothing is updated in place, so the order in which the topics deliver does not matter;
the rates are computed at query time. Reporting owns no events.

No personal data: only the whitelisted payload fields below are kept (never petitioners, summary,
notice, reason or reply text).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa

from services.reporting import months
from services.reporting.adapters import report_cases, report_facts, report_generation, report_log
from services.reporting.rates import rules
from xinfang.contracts import Envelope
from xinfang.storage import UnitOfWork
from xinfang.storage.sets import chunks, member, one_of
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
    # the unit's own acts on routing's side: kept for their back-dated mark only
    "CaseSignedFor": ("unit_id",),
    "CaseObjected": ("unit_id",),
    "DeadlineSet": ("stage", "starts_at", "due_at", "limit_days", "day_kind"),
}
CONSUMED = frozenset(KEEP)
# of an act recorded late (补录) the fact keeps that it was, never the reason (free text)
BACKDATED = "backdated"
_RULES = rules()
FLAGS = ("first_petition", "repeat", "skip_level", "collective", "law_related")


_FACTS_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)  # one encoder: json.dumps makes one per call


def log_row(env: Envelope, *, keep_dict: bool = False) -> dict:
    """The raw fact log row of an event: its times and its non-personal payload fields
    (``keep_dict``: also under "_facts" as a dict, saving the bulk path a JSON round trip)."""
    facts = {k: env.payload[k] for k in KEEP[env.event_type] if env.payload.get(k) is not None}
    if env.payload.get(BACKDATED):
        facts[BACKDATED] = True
    row = dict(event_id=env.event_id, event_type=env.event_type, case_id=env.case_id, office=env.office,
               occurred_at=env.occurred_at, recorded_at=env.recorded_at,
               facts=_FACTS_JSON.encode(facts))
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
               repeat_of=None, superseded_at=None, backdated=int(bool(p.get(BACKDATED))))
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
    elif kind in ("CaseSignedFor", "CaseObjected"):
        row.update(unit_id=p.get("unit_id"))
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


# ------------------------------------------------------------------ the case view, folded per case

DECISIONS = ("CaseAccepted", "CaseNotAccepted")
# the facts whose time a rate judges against its window (decision_at, reply_at, eval_at); the
# other times it judges are the due dates (report_cases.due_from, due_to) and received_at
RATED_ACTS = (*DECISIONS, "CaseReplied", "CaseEvaluated")
REGISTRATION_COLUMNS = ("office", "division_code", "category_code", "channel", "purpose", "headcount", "received_at",
                        "first_petition", "repeat", "skip_level", "collective", "law_related")
# the case view's columns, in report_cases and in a fold of the facts at query time
CASE_COLUMNS = (*REGISTRATION_COLUMNS, "unit_id", "decision_at", "not_accepted", "acceptance_due", "reply_at",
                "handling_due", "eval_at", "rating", "reviewed", "closed")


def case_fold(generation: int, as_of: datetime | None):
    """How the facts of a case fold into its case-view row, as known at ``as_of`` (None: all of
    them): ``(known, columns, registered)``, to be used with ``GROUP BY case_id`` over the facts
    where ``known``. "Latest" values (deadline, assignment, evaluation) are the facts current at
    ``as_of``: ``recorded_at <= as_of < superseded_at``. The one definition of the case view:
    report_cases is this fold with ``as_of`` None, and a query folds with its own ``as_of``."""
    f = report_facts
    known = f.c.generation == generation
    current = f.c.superseded_at.is_(None)
    if as_of is not None:
        known = sa.and_(known, f.c.recorded_at <= as_of)
        current = sa.or_(current, f.c.superseded_at > as_of)
    reg = f.c.kind == "CaseRegistered"

    def reg_col(col):
        return sa.func.max(sa.case((reg, col), else_=None))

    def first(cond):
        return sa.func.min(sa.case((cond, f.c.occurred_at), else_=None))

    def any_(cond):
        return sa.func.max(sa.case((cond, 1), else_=0))

    def now_(kind, stage, col):
        cond = [f.c.kind == kind, current] + ([f.c.stage == stage] if stage else [])
        return sa.func.max(sa.case((sa.and_(*cond), col), else_=None))

    cols = [reg_col(getattr(f.c, n)).label(n) for n in REGISTRATION_COLUMNS] + [
        now_("CaseAssigned", "handling", f.c.unit_id).label("unit_id"),
        first(f.c.kind.in_(DECISIONS)).label("decision_at"),
        any_(f.c.kind == "CaseNotAccepted").label("not_accepted"),
        sa.func.coalesce(now_("DeadlineSet", "acceptance", f.c.due_at), reg_col(f.c.due_at)).label("acceptance_due"),
        first(sa.and_(f.c.kind == "CaseReplied", f.c.stage == "handling")).label("reply_at"),
        now_("DeadlineSet", "handling", f.c.due_at).label("handling_due"),
        now_("CaseEvaluated", None, f.c.occurred_at).label("eval_at"),
        now_("CaseEvaluated", None, f.c.rating).label("rating"),
        any_(f.c.kind == "ReviewRequested").label("reviewed"),
        any_(f.c.kind == "CaseClosed").label("closed")]
    return known, cols, any_(reg)


@lru_cache(maxsize=16)
def _refresh_statements(dialect: str, generation: int):
    """The delete and the insert-from-fold of report_cases for the cases in the ``ids`` parameter
    (built once per generation: the fold is a large expression to build for every event)."""
    f, rc = report_facts, report_cases
    known, cols, registered = case_fold(generation, None)
    rep = sa.alias(f, "rep")
    repeated_at = (sa.select(sa.func.min(rep.c.recorded_at))
                   .where(rep.c.generation == generation, rep.c.repeat_of == f.c.case_id,
                          rep.c.kind == "CaseRegistered").scalar_subquery())
    names = ["generation", "case_id", "settled_at", "rated_from", "rated_to", "due_from", "due_to",
             "registered", *CASE_COLUMNS, "repeated_at"]
    rated = sa.case((f.c.kind.in_(RATED_ACTS), f.c.occurred_at), else_=None)
    fold = (sa.select(sa.literal(generation, sa.Integer), f.c.case_id, sa.func.max(f.c.recorded_at),
                      sa.func.min(rated), sa.func.max(rated), sa.func.min(f.c.due_at),
                      sa.func.max(f.c.due_at), registered, *cols, repeated_at)
            .where(known, member(dialect, f.c.case_id, name="ids")).group_by(f.c.case_id))
    # both give back the rows they take out and put in, for the monthly sums (months.add)
    back = [rc.c[n] for n in ("registered", *months.ROW_COLUMNS)]
    return (rc.delete().where(rc.c.generation == generation, member(dialect, rc.c.case_id, name="ids"))
            .returning(*back), rc.insert().from_select(names, fold).returning(*back))


def refresh_cases(conn: sa.Connection, generation: int, rows: list[dict]) -> None:
    """Fold again the report_cases rows these new fact rows change: their own cases', and the
    earlier cases a registration among them names as repeated."""
    refold(conn, generation, touched_cases(rows))


def touched_cases(rows: list[dict]) -> set[str]:
    """The cases whose report_cases rows these fact rows change."""
    return {r["case_id"] for r in rows} | {r["repeat_of"] for r in rows if r.get("repeat_of")}


def refold(conn: sa.Connection, generation: int, case_ids: Iterable[str], *, sums: bool = True) -> None:
    """Fold these cases' report_cases rows again from their facts, and move their counts in the
    monthly sums from the old rows to the new (``sums`` False: a migration before the sums)."""
    delete, insert = _refresh_statements(conn.dialect.name, generation)
    for part in chunks(conn.dialect.name, sorted(case_ids)):
        old = conn.execute(delete, {"ids": part}).mappings().all()
        new = conn.execute(insert, {"ids": part}).mappings().all()
        if sums:
            months.add(conn, generation, [r for r in old if r["registered"] == 1],
                       [r for r in new if r["registered"] == 1], _RULES)


def refresh_all_cases(conn: sa.Connection) -> None:
    """Every case of every generation (the migration that adds report_cases; the monthly sums,
    which come later, count them in their own migration)."""
    f = report_facts
    for gen in conn.execute(sa.select(f.c.generation).distinct()).scalars().all():
        ids = conn.execute(sa.select(f.c.case_id).where(f.c.generation == gen).distinct()).scalars().all()
        for i in range(0, len(ids), 5000):
            refold(conn, gen, set(ids[i:i + 5000]), sums=False)


def on_event(uow: UnitOfWork, env: Envelope) -> None:
    """The live handler: log the event, and add its fact to the generation the queries read."""
    log = log_row(env)
    uow.execute(report_log.insert().values(**log))
    gen = active_generation(uow.conn, for_write=True)  # per event: a savepoint rolled back frees its lock
    row = fact_row(log, gen, _RULES.acceptance_limit_days)
    supersede(uow.conn, gen, [row])
    uow.execute(report_facts.insert().values(**row))
    refresh_cases(uow.conn, gen, [row])


def on_events(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    """The live handler for a whole batch: the same rows as ``on_event`` on each, in bulk."""
    apply_many(uow.conn, envelopes)


def _pg_type(col: sa.Column) -> str:
    """The PostgreSQL type a binary COPY sends a column's values as."""
    t = col.type
    if isinstance(t, UtcDateTime):
        return "timestamptz"
    if isinstance(t, sa.Integer):
        return "int8" if isinstance(t, sa.BigInteger) else "int4"
    if isinstance(t, sa.String):
        return "text"
    raise TypeError(f"{col.table.name}.{col.name}: no binary COPY type for {t!r}")


def _sqlite_time(x: datetime | None) -> str | None:
    """A UTC time as SQLAlchemy's SQLite text form, which the queries compare."""
    if x is None:
        return None
    if x.utcoffset():
        x = x.astimezone(UTC)
    return x.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_rows(table: sa.Table, rows: list[dict]) -> list[tuple]:
    """The rows' values for an INSERT of the table's columns the first row has, in table order."""
    layout = [(c.name, isinstance(c.type, UtcDateTime)) for c in table.columns if c.name in rows[0]]
    return [tuple(_sqlite_time(r[c]) if t else r[c] for c, t in layout) for r in rows]


def _raw_insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Many rows at once, past SQLAlchemy's per-value processing: COPY on PostgreSQL, executemany
    on SQLite. On SQLite a row may carry its values already converted under "_sqlite" (``prepare``
    builds them in its own thread: converting the times had taken a third of the replay's main
    thread), all but ``superseded_at``, which ``supersede`` sets later."""
    cols = [c.name for c in table.columns if c.name in rows[0]]
    names = ", ".join(f'"{c}"' for c in cols)
    cur = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            # binary: formatting times as text had taken 40 % of the replay's Python time
            with cur.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types([_pg_type(table.c[c]) for c in cols])
                for r in rows:
                    cp.write_row([r[c] for c in cols])
        else:
            if "_sqlite" in rows[0]:
                values = [r["_sqlite"] for r in rows]
                if "superseded_at" in cols:
                    i = cols.index("superseded_at")
                    values = [v if r["superseded_at"] is None else
                              (*v[:i], _sqlite_time(r["superseded_at"]), *v[i + 1:]) for v, r in zip(values, rows, strict=False)]
            else:
                values = _sqlite_rows(table, rows)
            cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(cols))})", values)
    finally:
        cur.close()


def fact_rows(logs: list[dict], generation: int) -> list[dict]:
    """The typed facts of many log rows."""
    days = rules().acceptance_limit_days
    return [fact_row(r, generation, days) for r in logs]


def insert_facts(conn: sa.Connection, logs: list[dict], generation: int) -> None:
    """The facts of many log rows into one generation, their supersession, their cases' rows."""
    _insert_fact_rows(conn, fact_rows(logs, generation), generation)


def _insert_fact_rows(conn: sa.Connection, rows: list[dict], generation: int, *, fold: bool = True) -> None:
    supersede(conn, generation, rows)
    _raw_insert(conn, report_facts, rows)
    if fold:
        refresh_cases(conn, generation, rows)


@dataclass
class Prepared:
    """A batch's log and fact rows, built without the database (``prepare``)."""

    generation: int
    logs: list[dict]
    facts: list[dict]


def prepare(envelopes: Iterable[Envelope], generation: int, dialect: str | None = None) -> Prepared:
    logs = [log_row(e, keep_dict=True) for e in envelopes]
    facts = fact_rows(logs, generation)
    if dialect == "sqlite" and logs:  # the insert's values, times converted, here rather than in write
        for table, rows in ((report_log, logs), (report_facts, facts)):
            for r, v in zip(rows, _sqlite_rows(table, rows), strict=False):
                r["_sqlite"] = v
    return Prepared(generation, logs, facts)


def write(conn: sa.Connection, p: Prepared, *, fold: bool = True) -> int:
    """Write a prepared batch in the caller's transaction. Events already in the log are skipped,
    so a replay can be repeated. ``fold`` False: leave its cases' report_cases rows to the caller
    (``refold`` with ``touched_cases(p.facts)``)."""
    if not p.logs:
        return 0
    seen = set()
    for known in one_of(conn, report_log.c.event_id, [r["event_id"] for r in p.logs]):
        seen.update(conn.execute(sa.select(report_log.c.event_id).where(known)).scalars())
    logs = [r for r in p.logs if r["event_id"] not in seen]
    if not logs:
        return 0
    facts = [r for r in p.facts if r["event_id"] not in seen] if seen else p.facts
    _raw_insert(conn, report_log, logs)
    _insert_fact_rows(conn, facts, p.generation, fold=fold)
    return len(logs)


def apply_many(conn: sa.Connection, envelopes: Iterable[Envelope], generation: int | None = None) -> int:
    """The batched path (the live consumer's whole batch, replay): many events in one transaction
    with bulk inserts. Events already in the log are skipped."""
    envelopes = list(envelopes)
    if not envelopes:
        return 0
    gen = generation if generation is not None else active_generation(conn, for_write=True)
    return write(conn, prepare(envelopes, gen))


def replay(engine: sa.Engine, batches: Iterable[list[Envelope]], generation: int) -> Iterator[int]:
    """Apply batches of events, one transaction each, yielding how many each added; then fold the
    cases they touched, once each, in a last transaction (yielding 0). The next batch's rows are
    built in a second thread while the database takes the current one: building them is Python,
    the writing mostly waits on the server, so the two overlap. Until the last step the
    generation's report_cases lag its facts: replay into a generation no query reads yet."""
    def next_prepared(it):
        batch = next(it, None)
        return None if batch is None else prepare(batch, generation, engine.dialect.name)

    it = iter(batches)
    touched: set[str] = set()
    with ThreadPoolExecutor(1, thread_name_prefix="replay-prepare") as pool:
        ahead = pool.submit(next_prepared, it)
        while (p := ahead.result()) is not None:
            ahead = pool.submit(next_prepared, it)
            with engine.begin() as conn:
                n = write(conn, p, fold=False)
            touched |= touched_cases(p.facts)
            yield n
    with engine.begin() as conn:
        refold(conn, generation, touched)
    yield 0

"""Reporting's questions, answered at query time from the fact rows known at ``as_of``."""
from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.reporting import months, projections, rates
from services.reporting.adapters import report_cases
from services.reporting.adapters import report_facts as f
from services.reporting.projections import active_generation
from xinfang import labels
from xinfang.errors import NotFound
from xinfang.reference.categories import category_leaf
from xinfang.reference.divisions import division as _division
from xinfang.reference.divisions import units as _units
from xinfang.security import Principal, division_prefix
from xinfang.storage import Database
from xinfang.storage.sets import starts_with


@dataclass(frozen=True)
class Scope:
    """Which cases a statistic counts: by the office's jurisdiction, the case's division, its unit."""

    office_prefix: str | None = None
    division_prefix: str | None = None
    unit_id: str | None = None

    def dict(self) -> dict:
        return {"office_prefix": self.office_prefix, "division_prefix": self.division_prefix, "unit_id": self.unit_id}


def scope(user: Principal, *, unit_id: str | None = None, division_code: str | None = None) -> Scope:
    """The caller's scope, narrowed by the query: a handler sees their unit's cases, others their
    jurisdiction. Asking outside it answers 404, as for a case."""
    if user.role == "handler":
        if unit_id not in (None, user.unit_id):
            raise NotFound("unit_id: no such unit in your scope", "unit_id：您的范围内没有该单位", field="unit_id")
        base = Scope(unit_id=user.unit_id)
    else:
        base = Scope(office_prefix=user.prefix, unit_id=unit_id)
    if division_code:
        p = division_prefix(division_code)
        if not (p.startswith(user.prefix) or user.role == "handler"):
            raise NotFound("division_code: outside your jurisdiction", "division_code：不在您的辖区内",
                           field="division_code")
        base = Scope(base.office_prefix, p, base.unit_id)
    return base


def case_view(gen: int, as_of: datetime, sc: Scope, r: rates.ReportingRules, w: rates.Window | None = None,
              *, candidates: str = "spans", sqlite: bool = False, only=None):
    """One row per registered case in scope, as known at as_of: the columns the rates and counts use
    (``projections.case_fold``), as a selectable to be used as a subquery or a CTE.

    Candidates, picked from report_cases: the cases in scope with an act the rates count
    (``projections.RATED_ACTS``) or a limit that falls in the window, by their spans (``spans``:
    what the rates count); the cases received in the window (``received``: what the counts
    count); or both (``either``). A candidate all of
    whose facts were known at as_of (settled) is read from its report_cases row; the others (still
    changing at as_of) are folded from their facts known at as_of. ``only``: a select of case
    ids, the candidates' further bound (the cases with back-dated acts, ``backdated_acts``).

    The changing cases are found by the settled_at index: they are few where as_of is recent. On
    SQLite, which keeps no statistics, the office range is written so that no index serves it
    (``office || ''``): else SQLite took the office index and read every case of the county to find
    the changing ones (93 ms of a year's 320 ms of rates at 100,000 cases, against 0.2 ms).
    PostgreSQL weighs both indexes by its statistics."""
    rc = report_cases
    cand = [rc.c.generation == gen]
    changing_cand = [rc.c.generation == gen]
    if sc.office_prefix:
        cand.append(starts_with(rc.c.office, sc.office_prefix))
        changing_cand.append(starts_with(rc.c.office.concat("") if sqlite else rc.c.office, sc.office_prefix))
    if w is not None:
        def meets(lo, hi):
            cond = lo < w.until
            return cond if w.start is None else sa.and_(cond, hi >= w.start)
        spans = sa.or_(meets(rc.c.rated_from, rc.c.rated_to), meets(rc.c.due_from, rc.c.due_to))
        received = w.holds(rc.c.received_at)
        cand.append({"spans": spans, "received": received, "either": sa.or_(spans, received)}[candidates])
        changing_cand.append(cand[-1])
    if only is not None:
        cand.append(rc.c.case_id.in_(only))
        changing_cand.append(cand[-1])

    def repeated(case_id):
        rep = sa.alias(f, "rep")
        return sa.case((sa.exists().where(rep.c.generation == gen, rep.c.repeat_of == case_id,
                                          rep.c.kind == "CaseRegistered", rep.c.recorded_at <= as_of), 1),
                       else_=0).label("repeated")

    settled = (sa.select(rc.c.case_id, *[rc.c[n] for n in projections.CASE_COLUMNS],
                         sa.case((rc.c.repeated_at <= as_of, 1), else_=0).label("repeated"))
               .where(*cand, rc.c.settled_at <= as_of, rc.c.registered == 1))
    if sc.division_prefix:
        settled = settled.where(rc.c.division_code.startswith(sc.division_prefix))
    if sc.unit_id:
        settled = settled.where(rc.c.unit_id == sc.unit_id)

    known, cols, registered = projections.case_fold(gen, as_of)
    changing = sa.select(rc.c.case_id).where(*changing_cand, rc.c.settled_at > as_of)
    folded = (sa.select(f.c.case_id, *cols, repeated(f.c.case_id))
              .where(known, f.c.case_id.in_(changing))
              .group_by(f.c.case_id)
              .having(registered == 1))
    by_name = {c.name: c for c in cols}
    if sc.division_prefix:
        folded = folded.having(by_name["division_code"].startswith(sc.division_prefix))
    if sc.unit_id:
        folded = folded.having(by_name["unit_id"] == sc.unit_id)
    return sa.union_all(settled, folded)


def _context(w: rates.Window, sc: Scope) -> dict:
    return {"period": {"from": w.start.isoformat() if w.start else None, "to": w.end.isoformat() if w.end else None},
            "scope": sc.dict(), "as_of": w.as_of.isoformat()}


def _counts(v, w: rates.Window, r: rates.ReportingRules):
    """Count columns over registered cases (the caller filters by the received_at window)."""
    n = rates._n
    overdue = sa.and_(v.c.closed == 0, sa.or_(
        sa.and_(v.c.decision_at.is_(None), v.c.acceptance_due < w.as_of),
        sa.and_(v.c.not_accepted == 0, v.c.reply_at.is_(None), v.c.handling_due < w.as_of)))
    backlog_before = w.as_of - timedelta(days=r.backlog_after_days)
    backlog = sa.and_(v.c.closed == 0, v.c.not_accepted == 0, v.c.reply_at.is_(None), v.c.handling_due < backlog_before)
    return [
        sa.func.count().label("registered"),
        n(v.c.unit_id.is_not(None)).label("assigned"),
        sa.func.coalesce(sa.func.sum(v.c.headcount), 0).label("person_times"),
        n(v.c.channel == "visit").label("visit_batches"),
        sa.func.coalesce(sa.func.sum(sa.case((v.c.channel == "visit", v.c.headcount), else_=0)), 0).label("visit_person_times"),
        n(v.c.channel == "online").label("online"),
        sa.func.coalesce(sa.func.sum(v.c.first_petition), 0).label("first_petition"),
        sa.func.coalesce(sa.func.sum(v.c.repeat), 0).label("repeat"),
        sa.func.coalesce(sa.func.sum(v.c.skip_level), 0).label("skip_level"),
        sa.func.coalesce(sa.func.sum(v.c.collective), 0).label("collective"),
        sa.func.coalesce(sa.func.sum(v.c.law_related), 0).label("law_related"),
        n(v.c.closed == 0).label("open"),
        n(overdue).label("overdue"),
        n(backlog).label("backlog"),
    ]


COUNT_KEYS = ("registered", "assigned", "person_times", "visit_batches", "visit_person_times", "online",
              "first_petition", "repeat", "skip_level", "collective", "law_related", "open", "overdue", "backlog")


def _row(m) -> dict:
    out = {k: int(m[k] or 0) for k in COUNT_KEYS}
    out["online_share"] = round(out["online"] / out["registered"], 4) if out["registered"] else None
    return out


BREAKDOWNS = ("channel", "category", "purpose", "division", "township", "unit", "month")


def statistics(db: Database, w: rates.Window, sc: Scope, parts: Iterable[str], *, rate: str = "on_time_reply",
               r: rates.ReportingRules | None = None, sums: bool = True) -> dict[str, dict]:
    """Several statistics of one period and scope: ``rates``, ``summary`` (counts of the cases
    received in the period), ``ranking`` (units by ``rate``, those with a denominator) and
    ``by_<breakdown>``. Each answer is shaped as its own endpoint answers it.

    Answered from the monthly sums where they can (``months.statistics``; ``sums`` False: never),
    else by one statement over one fold of the cases (``_fold``)."""
    r = r or rates.rules()
    parts = list(dict.fromkeys(parts))
    counted = {"by_channel" if p == "summary" else p for p in parts} - {"rates", "ranking"}
    rated = {"rates", "ranking"} & set(parts)
    with db.read() as c:
        gen = active_generation(c)
        found = months.statistics(c, gen, w, sc, parts, rate, r) if sums else None
        if found is None:
            found = _fold(c, gen, w, sc, counted, rated, rate, r)
        marked = backdated_acts(c, gen, w, sc, r) if rated else {}
    return _shape(found, parts, w, sc, rate, marked)


def backdated_acts(c: sa.Connection, gen: int, w: rates.Window, sc: Scope, r: rates.ReportingRules) -> dict:
    """The acts recorded late (补录: their event carries the ``backdated`` mark) whose business
    time lies in the period, as known at as_of, on the cases in scope: how many per unit of the
    case (the unit the rates and the ranking count it for; None: not assigned). Few acts are
    marked, and their index finds them; their cases' view is folded for them alone."""
    def marked(acts):
        return sa.and_(acts.c.generation == gen, acts.c.backdated == 1, acts.c.recorded_at <= w.as_of,
                       w.holds(acts.c.occurred_at))
    inner, outer = sa.alias(f, "marked_case"), sa.alias(f, "marked_act")
    v = case_view(gen, w.as_of, sc, r, None, sqlite=c.dialect.name == "sqlite",
                  only=sa.select(inner.c.case_id).where(marked(inner))).subquery("v")
    q = (sa.select(v.c.unit_id, sa.func.count()).select_from(outer.join(v, v.c.case_id == outer.c.case_id))
         .where(marked(outer)).group_by(v.c.unit_id))
    return {unit: int(n) for unit, n in c.execute(q).all()}


def _fold(c: sa.Connection, gen: int, w: rates.Window, sc: Scope, counted: set[str], rated: set[str], rate: str,
          r: rates.ReportingRules) -> dict[str, list]:
    """The statistics' rows by one statement over one case view, folded as known at ``as_of``: a
    CTE that every part groups in its own branch of one UNION ALL (columns: part, key, the counts,
    the rates' numerators and denominators; NULL where a part has none), materialized where there
    are several: the dashboard's six statistics fold the cases once, not six times."""
    if c.dialect.name == "postgresql":
        # the materialized case view of a county's 100,000 cases spilled to temporary files
        c.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    candidates = "either" if counted and rated else "received" if counted else "spans"
    v = case_view(gen, w.as_of, sc, r, w, candidates=candidates, sqlite=c.dialect.name == "sqlite").cte("v")
    if len(counted) + len(rated) > 1:
        # folded once for every branch; a single question lets the planner inline the view
        # instead, which is faster (docs/benchmarks.md)
        v = v.prefix_with("MATERIALIZED")
    defs = rates.definitions(v, w, r)

    def none(t):  # typed: PostgreSQL takes two untyped NULLs in a UNION for text
        return sa.cast(sa.null(), t)

    def branch(part, key=None, *, counts=False, rated_by=(), where=None):
        q = sa.select(sa.literal_column(f"'{part}'").label("part"),
                      (key if key is not None else none(sa.String)).label("key"),
                      *(_counts(v, w, r) if counts else [none(sa.BigInteger).label(k) for k in COUNT_KEYS]),
                      *[(defs[k][i] if k in rated_by else none(sa.BigInteger)).label(f"{k}_{p}")
                        for k in rates.RATES for i, p in enumerate(("n", "d"))])
        if where is not None:
            q = q.where(where)
        return q.group_by(key) if key is not None else q

    branches = []
    if "rates" in rated:
        branches.append(branch("rates", rated_by=rates.RATES))
    if "ranking" in rated:
        branches.append(branch("ranking", v.c.unit_id, rated_by=(rate,), where=v.c.unit_id.is_not(None)))
    for part in sorted(counted):
        by = part[3:]
        key = _month_key(c, gen, v, w, r) if by == "month" else {
            "channel": v.c.channel, "category": v.c.category_code, "purpose": v.c.purpose,
            "division": v.c.division_code, "township": _township(v.c.division_code), "unit": v.c.unit_id}[by]
        if key is None:  # no case received in the period: no months
            continue
        branches.append(branch(part, key, counts=True, where=w.holds(v.c.received_at)))
    found: dict[str, list] = {}
    if branches:
        for m in c.execute(sa.union_all(*branches) if len(branches) > 1 else branches[0]).mappings():
            found.setdefault(m["part"], []).append(m)
    return found


def _shape(found: dict[str, list], parts: list[str], w: rates.Window, sc: Scope, rate: str,
           backdated: dict | None = None) -> dict[str, dict]:
    """``backdated``: the back-dated acts per unit (``backdated_acts``), shown beside the rates."""
    context = _context(w, sc)
    backdated = backdated or {}
    out = {}
    for part in parts:
        if part == "rates":
            m = found["rates"][0]
            out[part] = {**{k: rates.answer(m[f"{k}_n"], m[f"{k}_d"]) for k in rates.RATES},
                         "backdated": sum(backdated.values()), **context}
        elif part == "ranking":
            # the units with something to rate in the period (a unit with cases but no decision,
            # reply or limit in it has no rate to rank)
            items = [{"unit_id": m["key"], "unit_name": unit_name(m["key"]),
                      **rates.answer(m[f"{rate}_n"], m[f"{rate}_d"]), "backdated": backdated.get(m["key"], 0)}
                     for m in found.get("ranking", []) if m[f"{rate}_d"]]
            items.sort(key=lambda x: (x["rate"] is None, -(x["rate"] or 0), -x["denominator"], x["unit_id"]))
            for i, it in enumerate(items, start=1):
                it["rank"] = i
            out[part] = {"rate": rate, "rate_zh": labels.RATES[rate], "rows": items, **context}
        elif part == "summary":
            rows = found.get("by_channel", [])
            totals = {k: sum(int(m[k] or 0) for m in rows) for k in COUNT_KEYS}
            by_channel = {m["key"]: int(m["registered"]) for m in rows}
            out[part] = {**_row(totals), "by_channel": dict(sorted(by_channel.items())), **context}
        else:
            by = part[3:]
            rows = sorted(found.get(part, []), key=lambda m: (m["key"] is None, m["key"] or ""))
            out[part] = {"by": by, "rows": [{"key": m["key"], "label": label(by, m["key"]), **_row(m)} for m in rows],
                         **context}
    return out


def received(db: Database, w: rates.Window, sc: Scope, r: rates.ReportingRules | None = None) -> dict:
    """Only the cases received in the period and their first petitions: the two counts the
    year-on-year compares, without the summary's other twelve (the summary also judges each open
    case's deadlines, which these two counts do not need)."""
    r = r or rates.rules()
    with db.read() as c:
        gen = active_generation(c)
        found = months.statistics(c, gen, w, sc, ["by_channel"], "on_time_reply", r, received_only=True)
        if found is not None:
            rows = found["by_channel"]
            return {"registered": sum(m["registered"] for m in rows), "first_petition": sum(m["first_petition"] for m in rows)}
        v = case_view(gen, w.as_of, sc, r, w, candidates="received", sqlite=c.dialect.name == "sqlite").subquery()
        n, first = c.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(v.c.first_petition), 0))
                             .where(w.holds(v.c.received_at))).one()
    return {"registered": int(n), "first_petition": int(first)}


def _a_year_before(db: Database, w: rates.Window, sc: Scope, r: rates.ReportingRules):
    """The same period a year before and its counts (None, None for a period with no start)."""
    before = w.a_year_before(r.timezone)
    return (before, received(db, before, sc, r)) if before else (None, None)


def _compare(w: rates.Window, sc: Scope, current: dict, before: rates.Window | None, previous: dict | None):
    if before is None:
        return None

    def compare(key: str) -> dict:
        now, then = current[key], previous[key]
        return {"current": now, "previous": then, "change": round((now - then) / then, 4) if then else None}
    return {"first_petition": compare("first_petition"), "registered": compare("registered"),
            "previous_period": {"from": before.start.isoformat(), "to": before.until.isoformat()},
            **_context(w, sc)}


def year_on_year(db: Database, w: rates.Window, sc: Scope, current: dict,
                 r: rates.ReportingRules | None = None) -> dict | None:
    """First petitions (初信初访) and all cases received in the period against the same period a
    year before (``Window.a_year_before``), as known at the same ``as_of``. ``current`` is the
    period's summary, already counted. None for a period with no start."""
    r = r or rates.rules()
    return _compare(w, sc, current, *_a_year_before(db, w, sc, r))


DASHBOARD = ("rates", "summary", "ranking", "by_month", "by_category", "by_township")


def dashboard(db: Database, w: rates.Window, sc: Scope, rate: str, r: rates.ReportingRules | None = None) -> dict:
    """The leader's page: ``DASHBOARD``'s statistics in one statement, and beside it, on a second
    connection, the same period a year before for ``year_on_year``."""
    r = r or rates.rules()
    with ThreadPoolExecutor(max_workers=1) as pool:
        a_year_before = pool.submit(_a_year_before, db, w, sc, r)
        found = statistics(db, w, sc, DASHBOARD, rate=rate, r=r)
        before, previous = a_year_before.result()
    return {"rates": found["rates"], "summary": found["summary"], "ranking": found["ranking"],
            "breakdowns": {k[3:]: v for k, v in found.items() if k.startswith("by_")},
            "year_on_year": _compare(w, sc, found["summary"], before, previous)}


def rate_figures(db: Database, w: rates.Window, sc: Scope, r: rates.ReportingRules | None = None) -> dict:
    return statistics(db, w, sc, ["rates"], r=r)["rates"]


def rankings(db: Database, w: rates.Window, sc: Scope, rate: str, r: rates.ReportingRules | None = None) -> dict:
    return statistics(db, w, sc, ["ranking"], rate=rate, r=r)["ranking"]


def summary(db: Database, w: rates.Window, sc: Scope, r: rates.ReportingRules | None = None) -> dict:
    """Counts of the cases received in the period (batches 批次 and person-times 人次)."""
    return statistics(db, w, sc, ["summary"], r=r)["summary"]


def breakdown(db: Database, w: rates.Window, sc: Scope, by: str, r: rates.ReportingRules | None = None) -> dict:
    return statistics(db, w, sc, [f"by_{by}"], r=r)[f"by_{by}"]


def _township(code):
    """The township a division code lies in (its first nine digits, then 000): a village's cases
    counted with its township's; a county-level code stays the county's."""
    return sa.func.substr(code, 1, 9).concat(sa.literal_column("'000'"))


def _month_key(c, gen: int, v, w: rates.Window, r: rates.ReportingRules):
    """The month (YYYY-MM in the reporting time zone) a case was received in, as SQL. The month
    starts are computed here (zone rules stay in Python, the same on SQLite and PostgreSQL) and
    picked by a CASE that halves the months at each level: one comparison per month, in a flat
    CASE over five years, had made the month breakdown twice as slow as the others."""
    tz = ZoneInfo(r.timezone)
    rc = report_cases
    lo, hi = c.execute(sa.select(sa.func.min(rc.c.received_at), sa.func.max(rc.c.received_at))
                       .where(rc.c.generation == gen, w.holds(rc.c.received_at))).one()
    if lo is None:
        return None
    starts = []
    m = lo.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while m <= hi:
        starts.append(m)
        m = m.replace(year=m.year + m.month // 12, month=m.month % 12 + 1)

    def pick(i: int, j: int):  # the month among starts[i:j] that received_at falls in
        if j - i == 1:
            return sa.literal_column(f"'{starts[i]:%Y-%m}'", sa.String)
        mid = (i + j) // 2
        return sa.case((v.c.received_at < starts[mid], pick(i, mid)), else_=pick(mid, j))
    # one month: still an expression of the case, as GROUP BY takes no constant on PostgreSQL
    return pick(0, len(starts)) if len(starts) > 1 else sa.case((v.c.received_at.is_not(None), pick(0, 1)))


def unit_name(unit_id: str | None) -> str | None:
    if unit_id is None:
        return None
    u = next((u for u in _units() if u.unit_id == unit_id), None)
    return u.name if u else unit_id


def label(by: str, key: str | None) -> str | None:
    if key is None:
        return "未交办" if by == "unit" else None
    if by == "channel":
        return labels.CHANNELS.get(key, key)
    if by == "purpose":
        return labels.PURPOSES.get(key, key)
    if by in ("division", "township"):
        d = _division(key)
        return d.name if d else key
    if by == "unit":
        return unit_name(key)
    if by == "month":
        return f"{key[:4]}年{int(key[5:])}月"
    if by == "category":
        leaf = category_leaf(key)
        return f"{leaf[1]}／{leaf[0]}" if leaf else key
    return key

"""Reporting's monthly sums (``report_months``): the leader's questions answered from per-month
counts instead of judging every case of the period (one second at 100,000 cases on SQLite).

Every figure of the dashboard counts cases whose one time (``t1``: received, decided, replied,
evaluated, or a limit) lies in the period, and for some a second time (``t2``) against a bound:
an open case is overdue once its limit is behind ``as_of``; a limit counts as missed when the
decision or reply came at or after the period's end, or never. ``KINDS`` lists them, each with
the breakdowns it is kept by. ``report_months`` holds, per office, breakdown key, kind and month
of t1 (and of t2), how many cases count, kept in the refold's transaction (the case's old row
out, its new row in).

A question asked of an office's jurisdiction, for a period that starts on a month's first day
(or at the beginning), as known at or after every recorded fact, is answered by ``statistics``:
the months of t1 wholly before the period's last month, and of t2 clear of its bound's month,
from ``report_months``; every other case-and-figure (the times in those boundary months) from
the cases' rows themselves, exactly. Any other question (a past ``as_of``, a division or unit
filter, another breakdown) folds the cases as before (``views.statistics``);
tests/integration/test_reporting_months.py holds the two to the same answers.

The definitions here mirror ``rates.definitions`` and ``views._counts`` (SQL, for the fold at
any ``as_of``): a change to one is a change to both, and the test above fails until it is.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.reporting import rates
from services.reporting.adapters import report_cases, report_months, report_months_rules
from xinfang.storage.sets import starts_with

Row = Mapping  # a report_cases row (ROW_COLUMNS)


def _flag(name: str) -> Callable[[Row], int]:
    return lambda r: int(r[name] or 0)


def overdue_since(r: Row) -> datetime | None:
    """When an open case became (or becomes) overdue: its acceptance limit while undecided, its
    reply deadline while accepted and unreplied (``views._counts``' overdue)."""
    dues = []
    if r["decision_at"] is None and r["acceptance_due"] is not None:
        dues.append(r["acceptance_due"])
    if not r["not_accepted"] and r["reply_at"] is None and r["handling_due"] is not None:
        dues.append(r["handling_due"])
    return min(dues) if dues else None


@dataclass(frozen=True)
class Kind:
    """Figures counted by one time ``t1`` (and an optional second time ``t2`` with its bound:
    ``before``: t2 < as_of - ``shift(rules)``; ``none_or_after``: t2 is none or at or after the
    period's end), kept by these breakdowns (``dims``)."""

    name: str
    dims: tuple[str, ...]
    t1: Callable[[Row], datetime | None]
    figures: dict[str, Callable[[Row], int]]
    t2: Callable[[Row], datetime | None] | None = None
    bound: str | None = None
    shift: Callable[[rates.ReportingRules], timedelta] = lambda r: timedelta(0)


COUNTED = ("channel", "category", "township")  # the breakdowns of the cases received
RATED = ("total", "unit")                      # the rates, and the ranking by unit


def kinds(r: rates.ReportingRules) -> tuple[Kind, ...]:
    satisfied = frozenset(r.satisfied_ratings)
    first = _flag("first_petition")
    return (
        Kind("received", COUNTED, lambda c: c["received_at"], {
            "registered": lambda c: 1,
            "assigned": lambda c: int(c["unit_id"] is not None),
            "person_times": lambda c: int(c["headcount"] or 0),
            "visit_batches": lambda c: int(c["channel"] == "visit"),
            "visit_person_times": lambda c: int(c["headcount"] or 0) if c["channel"] == "visit" else 0,
            "online": lambda c: int(c["channel"] == "online"),
            **{f: _flag(f) for f in ("first_petition", "repeat", "skip_level", "collective", "law_related")},
            "open": lambda c: int(not c["closed"]),
        }),
        Kind("overdue", COUNTED, lambda c: c["received_at"], {"overdue": lambda c: int(not c["closed"])},
             t2=lambda c: None if c["closed"] else overdue_since(c), bound="before"),
        Kind("backlog", COUNTED, lambda c: c["received_at"],
             {"backlog": lambda c: int(not c["closed"] and not c["not_accepted"] and c["reply_at"] is None)},
             t2=lambda c: c["handling_due"], bound="before",
             shift=lambda rules: timedelta(days=rules.backlog_after_days)),
        Kind("decision", RATED, lambda c: c["decision_at"], {
            "decided": lambda c: 1,
            "decided_on_time": lambda c: int(c["acceptance_due"] is not None and c["decision_at"] <= c["acceptance_due"]),
        }),
        Kind("acceptance_due", RATED, lambda c: c["acceptance_due"], {"undecided_past_limit": lambda c: 1},
             t2=lambda c: c["decision_at"], bound="none_or_after"),
        Kind("reply", RATED, lambda c: c["reply_at"], {
            "replied": lambda c: 1,
            "replied_on_time": lambda c: int(c["handling_due"] is None or c["reply_at"] <= c["handling_due"]),
            "replied_evaluated": lambda c: int(c["eval_at"] is not None),
            "first_replied": first,
            "first_resolved": lambda c: int(first(c) == 1 and not c["reviewed"] and c["repeated_at"] is None),
        }),
        Kind("handling_due", RATED, lambda c: c["handling_due"],
             {"unreplied_past_deadline": lambda c: int(not c["not_accepted"])},
             t2=lambda c: c["reply_at"], bound="none_or_after"),
        Kind("eval", RATED, lambda c: c["eval_at"], {
            "evaluated": lambda c: 1,
            "satisfied": lambda c: int(c["rating"] in satisfied),
        }),
    )


FIGURES = tuple(f for k in kinds(rates.rules()) for f in k.figures)
COUNT_FIGURES = tuple(f for k in kinds(rates.rules()) if k.dims == COUNTED for f in k.figures)
# each rate as (numerator, the figures its denominator adds up)
RATE_FIGURES = {
    "timely_acceptance": ("decided_on_time", ("decided", "undecided_past_limit")),
    "on_time_reply": ("replied_on_time", ("replied", "unreplied_past_deadline")),
    "evaluation": ("replied_evaluated", ("replied",)),
    "satisfaction": ("satisfied", ("evaluated",)),
    "first_time_resolution": ("first_resolved", ("first_replied",)),
}
ROW_COLUMNS = ("case_id", "office", "division_code", "category_code", "channel", "headcount", "received_at",
               "first_petition", "repeat", "skip_level", "collective", "law_related", "unit_id", "decision_at",
               "not_accepted", "acceptance_due", "reply_at", "handling_due", "eval_at", "rating", "reviewed",
               "closed", "repeated_at")
# the kinds also summed per year (m1 "Y2025"; not the channel's, whose months by_month shows): a
# five-year all-time question adds up five rows per unit, not sixty
YEARLY = frozenset({"received", "decision", "reply", "eval"})
# the parts of views.statistics answered here: the dashboard's, and the summary, rates, ranking alone
PARTS = frozenset({"rates", "ranking", "summary", "by_channel", "by_month", "by_category", "by_township"})


def fingerprint(r: rates.ReportingRules) -> str:
    """The rules the sums were counted under: counted under others, they answer nothing."""
    return json.dumps({"satisfied": sorted(r.satisfied_ratings), "backlog_after_days": r.backlog_after_days,
                       "timezone": r.timezone, "version": 1}, sort_keys=True)


def _key(dim: str, c: Row) -> str | None:
    if dim == "channel":
        return c["channel"]
    if dim == "category":
        return c["category_code"]
    if dim == "township":  # as views._township: the first nine digits, then 000
        return c["division_code"][:9] + "000" if c["division_code"] else None
    if dim == "unit":
        return c["unit_id"]
    return None  # "total": one row


@lru_cache(maxsize=8)
def _month_starts(tz: ZoneInfo) -> tuple[list[float], list[str]]:
    """Every month's first instant in ``tz`` from 1949 to 2100, as timestamps, and its name."""
    starts, names = [], []
    for y in range(1949, 2101):
        for mo in range(1, 13):
            starts.append(datetime(y, mo, 1, tzinfo=tz).timestamp())
            names.append(f"{y:04d}-{mo:02d}")
    return starts, names


def _month(t: datetime, tz: ZoneInfo) -> str:
    """YYYY-MM of ``t`` in ``tz``: found among the month starts (converting each time to the zone
    had cost a quarter of the live batch's sums)."""
    starts, names = _month_starts(tz)
    i = bisect_right(starts, t.timestamp()) - 1
    if 0 <= i < len(names) - 1:
        return names[i]
    lt = t.astimezone(tz)
    return f"{lt.year:04d}-{lt.month:02d}"


def contributions(c: Row, ks: tuple[Kind, ...], tz: ZoneInfo, dims: Iterable[str] | None = None):
    """What one case adds: (dim, key, kind, t1, t2, [(figure, n), …]) for each kind it counts in."""
    for k in ks:
        t1 = k.t1(c)
        if t1 is None:
            continue
        figures = [(f, n) for f, fn in k.figures.items() if (n := fn(c))]
        if not figures:
            continue
        t2 = k.t2(c) if k.t2 else None
        if k.bound == "before" and t2 is None:
            continue  # never overdue, never backlog
        for dim in k.dims:
            if dims is not None and dim not in dims:
                continue
            key = _key(dim, c)
            if dim == "unit" and key is None:
                continue  # the ranking ranks units
            yield dim, key, k, t1, t2, figures


# ------------------------------------------------------------------ keeping the sums

KEY = tuple(c.name for c in report_months.primary_key.columns)
assert KEY == ("generation", "kind", "dim", "m1", "office", "key", "m2")  # add() builds its rows so
_AT = {f: i for i, f in enumerate(FIGURES)}


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> str:
    """The upsert adding a delta to a row of the sums, as the driver's SQL: executed for a few
    hundred rows per batch, SQLAlchemy's per-row parameter processing had cost more than the
    statement itself."""
    mark = "%s" if dialect == "postgresql" else "?"
    cols = (*KEY, *FIGURES)
    return (f"INSERT INTO report_months ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))}) "
            f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
            + ", ".join(f"{f} = report_months.{f} + excluded.{f}" for f in FIGURES))


def _stamp(conn: sa.Connection, generation: int, r: rates.ReportingRules) -> None:
    """The generation's sums are counted under these rules from here on; if they were counted
    under others, they are marked stale (answering nothing) until ``build`` counts them again."""
    t = report_months_rules
    have = conn.execute(sa.select(t.c.rules).where(t.c.generation == generation)).scalar()
    if have is None:
        conn.execute(t.insert().values(generation=generation, rules=fingerprint(r)))
    elif have != fingerprint(r) and have != "stale":
        conn.execute(t.update().where(t.c.generation == generation).values(rules="stale"))


def add(conn: sa.Connection, generation: int, old: list[Row], new: list[Row],
        r: rates.ReportingRules | None = None) -> None:
    """Take the ``old`` rows' counts out of the sums and put the ``new`` rows' in."""
    r = r or rates.rules()
    _stamp(conn, generation, r)
    ks, tz = kinds(r), ZoneInfo(r.timezone)
    delta: dict[tuple, list[int]] = {}  # (kind, dim, m1, office, key, m2): KEY after generation
    for rows, sign in ((old, -1), (new, 1)):
        for c in rows:
            office = c["office"] or ""
            for dim, key, k, t1, t2, figures in contributions(c, ks, tz):
                m1, m2 = _month(t1, tz), _month(t2, tz) if t2 else ""
                if k.bound == "none_or_after" and m2 and m2 <= m1:
                    # acted in the limit's month or before: never "at or after the end" of a period
                    # whose months the sums answer (they end after m1), so never in them
                    continue
                ats = [(k.name, dim, m1, office, key or "", m2)]
                if k.name in YEARLY and dim != "channel":  # by_month needs the channel's months
                    ats.append((k.name, dim, f"Y{m1[:4]}", office, key or "", ""))
                for at in ats:
                    acc = delta.get(at)
                    if acc is None:
                        acc = delta[at] = [0] * len(FIGURES)
                    for f, n in figures:
                        acc[_AT[f]] += sign * n
    values = [(generation, *at, *acc) for at, acc in delta.items() if any(acc)]
    if values:
        conn.exec_driver_sql(_upsert(conn.dialect.name), values)


def build(conn: sa.Connection, generation: int, r: rates.ReportingRules | None = None, chunk: int = 5000) -> None:
    """Count one generation's sums again from its report_cases rows (a migration; changed rules)."""
    r = r or rates.rules()
    conn.execute(report_months.delete().where(report_months.c.generation == generation))
    conn.execute(report_months_rules.delete().where(report_months_rules.c.generation == generation))
    rc = report_cases
    last = ""
    while True:
        rows = [dict(m) for m in conn.execute(
            sa.select(*[rc.c[n] for n in ROW_COLUMNS])
            .where(rc.c.generation == generation, rc.c.registered == 1, rc.c.case_id > last)
            .order_by(rc.c.case_id).limit(chunk)).mappings()]
        if not rows:
            break
        add(conn, generation, [], rows, r)
        last = rows[-1]["case_id"]
    _stamp(conn, generation, r)


# ------------------------------------------------------------------ answering from them

def _month_start(t: datetime, tz: ZoneInfo) -> datetime:
    return t.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(m: datetime) -> datetime:
    return m.replace(year=m.year + m.month // 12, month=m.month % 12 + 1)


def statistics(conn: sa.Connection, generation: int, w: rates.Window, sc, parts: Iterable[str], rate: str,
               r: rates.ReportingRules, *, received_only: bool = False) -> dict[str, list[dict]] | None:
    """``views.statistics``' rows per part (as its one statement returns them), or None when the
    question is not one the sums answer (see the module's docstring). ``received_only``: only
    the counts of the cases received (no overdue, no backlog)."""
    parts = set(parts)
    if not parts <= PARTS or sc.division_prefix or sc.unit_id:
        return None
    tz = ZoneInfo(r.timezone)
    if w.start is not None and w.start != _month_start(w.start, tz):
        return None
    t = report_months_rules
    if conn.execute(sa.select(t.c.rules).where(t.c.generation == generation)).scalar() != fingerprint(r):
        return None
    if not received_only and w.until < _month_start(w.as_of, tz):
        # a period over before as_of's month: its last month's acts and limits are found among
        # every later case's (no index serves both ends of a span); folding is quicker there
        return None
    rc = report_cases
    latest = conn.execute(sa.select(sa.func.max(rc.c.settled_at)).where(rc.c.generation == generation)).scalar()
    if latest is not None and latest > w.as_of:
        return None  # something recorded after as_of: the cases are folded as known then

    counted = {"by_channel" if p == "summary" else p for p in parts} - {"rates", "ranking"}
    dims = ({"channel"} if counted & {"by_channel", "by_month"} else set()) | \
        {p[3:] for p in counted & {"by_category", "by_township"}} | \
        ({"total"} if "rates" in parts else set()) | ({"unit"} if "ranking" in parts else set())
    ks = tuple(k for k in kinds(r) if set(k.dims) & dims and not (received_only and k.name != "received"))
    until = w.until
    u0 = _month_start(until, tz)
    mu = u0.strftime("%Y-%m")
    ms = _month_start(w.start, tz).strftime("%Y-%m") if w.start is not None else None
    bounds = {k.name: w.as_of - k.shift(r) for k in ks if k.bound == "before"}

    # per (dim, key, month or "") the figures: "month" only for the channel breakdown (by_month)
    out: dict[tuple[str, str | None, str], dict[str, int]] = {}

    def acc(dim, key, month, figures):
        a = out.get((dim, key, month))
        if a is None:
            a = out[(dim, key, month)] = dict.fromkeys(FIGURES, 0)
        for f, n in figures:
            a[f] += n

    # the months wholly inside the period, clear of the bounds' months
    m = report_months
    # one SELECT per kind and range of m1, each a range of the primary key (generation, kind, dim, m1):
    # the years wholly inside the period from their year rows (YEARLY), the other months from theirs
    last = int(mu[:4]) - 1
    first = None if ms is None else int(ms[:4]) + (ms[5:] != "01")
    lo = ms or ""
    if first is None or first <= last:
        yearly = [(f"Y{first:04d}" if first else "Y", f"Y{last + 1:04d}"), (f"{last + 1:04d}-01", mu)]
        if first is not None:
            yearly.append((ms, f"{first:04d}-01"))
    else:
        yearly = [(lo, mu)]
    selects = []
    for k in ks:
        use = sorted(set(k.dims) & dims)
        if k.name in YEARLY:
            ranges = [(d, span) for d in use for span in ([(lo, mu)] if d == "channel" else yearly)]
        else:
            ranges = [(d, (lo, mu)) for d in use]
        for d, (a, b) in ranges:
            if a >= b:
                continue
            cond = [m.c.generation == generation, m.c.kind == k.name, m.c.dim == d, m.c.m1 >= a, m.c.m1 < b]
            if k.bound == "before":
                cond.append(m.c.m2 < _month(bounds[k.name], tz))
            elif k.bound == "none_or_after":
                cond.append(sa.or_(m.c.m2 == "", m.c.m2 > mu))
            if sc.office_prefix:
                cond.append(starts_with(m.c.office, sc.office_prefix))
            # by_month's months: the channel's m1 (a literal: PostgreSQL would not take a
            # parameter in the SELECT as the GROUP BY's)
            month = m.c.m1 if d == "channel" else sa.literal_column("''")
            figs = [sa.func.sum(m.c[f]).label(f) if f in k.figures else sa.cast(sa.literal_column("0"), sa.Integer)
                    .label(f) for f in FIGURES]
            selects.append(sa.select(m.c.dim, m.c.key, month.label("month"), *figs).where(*cond)
                           .group_by(m.c.dim, m.c.key, *([m.c.m1] if d == "channel" else [])))
    if selects:
        for row in conn.execute(sa.union_all(*selects) if len(selects) > 1 else selects[0]).mappings():
            acc(row["dim"], row["key"] or None, row["month"], [(f, int(row[f])) for f in FIGURES if row[f]])

    # the rest, case by case: the cases with a time in the boundary months
    # each condition its own SELECT, so that each takes its index (SQLite takes none for the OR)
    near = [sa.and_(rc.c.received_at >= u0, rc.c.received_at < until)]
    if any(k.dims == RATED for k in ks):
        near += [sa.and_(rc.c.rated_to >= u0, rc.c.rated_from < _next_month(u0)),
                 sa.and_(rc.c.due_to >= u0, rc.c.due_from < until)]
    for b in bounds.values():
        near.append(sa.and_(rc.c.due_to >= _month_start(b, tz), rc.c.due_from < b))

    def near_by(i, x):
        q = sa.select(*[rc.c[n] for n in ROW_COLUMNS]).where(rc.c.generation == generation, rc.c.registered == 1, x)
        if sc.office_prefix:
            # past the received term, the office written so that SQLite takes the term's index,
            # not the office's (which holds the whole county), as views.case_view does
            office = rc.c.office.concat("") if i and conn.dialect.name == "sqlite" else rc.c.office
            q = q.where(starts_with(office, sc.office_prefix))
        return q
    cq = sa.union(*[near_by(i, x) for i, x in enumerate(near)]) if len(near) > 1 else near_by(0, near[0])
    for c in conn.execute(cq).mappings():
        for dim, key, k, t1, t2, figures in contributions(c, ks, tz, dims):
            m1 = _month(t1, tz)
            in_months = m1 < mu and (ms is None or m1 >= ms)
            if k.bound == "before":
                in_months = in_months and _month(t2, tz) < _month(bounds[k.name], tz)
            elif k.bound == "none_or_after":
                in_months = in_months and (t2 is None or _month(t2, tz) > mu)
            if in_months:
                continue  # counted above
            if not ((w.start is None or t1 >= w.start) and t1 < until):
                continue
            if k.bound == "before" and not t2 < bounds[k.name]:
                continue
            if k.bound == "none_or_after" and not (t2 is None or t2 >= until):
                continue
            acc(dim, key, m1 if dim == "channel" else "", figures)

    return _found(out, parts, counted, rate)


def _found(out: dict, parts: set[str], counted: set[str], rate: str) -> dict[str, list[dict]]:
    """The sums shaped as ``views.statistics``' statement returns its rows."""
    def grouped(dim: str, by_month: bool = False) -> dict:
        g: dict = {}
        for (d, key, month), figs in out.items():
            if d != dim:
                continue
            k = month if by_month else key
            a = g.setdefault(k, dict.fromkeys(FIGURES, 0))
            for f, n in figs.items():
                a[f] += n
        return g

    def rated(figs: dict, names=rates.RATES) -> dict:
        row = {}
        for name in names:
            num, den = RATE_FIGURES[name]
            row[f"{name}_n"], row[f"{name}_d"] = figs[num], sum(figs[d] for d in den)
        return row

    found: dict[str, list[dict]] = {}
    if "rates" in parts:
        total = grouped("total").get(None) or dict.fromkeys(FIGURES, 0)
        found["rates"] = [rated(total)]
    if "ranking" in parts:
        found["ranking"] = [{"key": unit, **rated(figs, (rate,))} for unit, figs in grouped("unit").items()]
    for part in counted:
        g = grouped("channel", by_month=True) if part == "by_month" else grouped(part[3:])
        found[part] = [{"key": key, **{k: figs[k] for k in COUNT_FIGURES}} for key, figs in g.items()
                       if figs["registered"] > 0]
    return found

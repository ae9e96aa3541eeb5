"""Reporting's questions, answered at query time from the fact rows known at ``as_of``."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.reporting import rates
from services.reporting.adapters import report_facts as f
from services.reporting.projections import active_generation
from xinfang.errors import NotFound
from xinfang.reference.categories import category_leaf
from xinfang.reference.divisions import division as _division, units as _units
from xinfang.security import Principal, division_prefix
from xinfang.storage import Database

CHANNEL_ZH = {"letter": "来信", "visit": "来访", "online": "网上信访", "phone": "电话"}
PURPOSE_ZH = {"suggestion": "建议", "accusation": "检举控告", "appeal": "申诉求决"}
DECISIONS = ("CaseAccepted", "CaseNotAccepted")


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


def _latest(gen: int, as_of: datetime, kind: str, stage: str | None, *cols):
    """Per case, the latest fact of a kind (and stage) known at as_of: a re-issued deadline or a
    new assignment supersedes the earlier one."""
    rn = sa.func.row_number().over(partition_by=f.c.case_id,
                                   order_by=(f.c.occurred_at.desc(), f.c.recorded_at.desc(), f.c.event_id.desc()))
    cond = [f.c.generation == gen, f.c.kind == kind, f.c.recorded_at <= as_of]
    if stage:
        cond.append(f.c.stage == stage)
    return sa.select(f.c.case_id, *cols, rn.label("rn")).where(*cond).subquery()


def case_view(gen: int, as_of: datetime, sc: Scope, r: rates.ReportingRules):
    """One row per registered case in scope, as known at as_of: the columns the rates and counts use."""
    known = sa.and_(f.c.generation == gen, f.c.recorded_at <= as_of)
    reg_cond = [known, f.c.kind == "CaseRegistered"]
    if sc.office_prefix:
        reg_cond.append(f.c.office.startswith(sc.office_prefix))
    if sc.division_prefix:
        reg_cond.append(f.c.division_code.startswith(sc.division_prefix))
    reg = sa.select(f.c.case_id, f.c.office, f.c.division_code, f.c.category_code, f.c.channel, f.c.purpose,
                    f.c.headcount, f.c.received_at, f.c.first_petition, f.c.repeat, f.c.skip_level,
                    f.c.collective, f.c.law_related, f.c.due_at.label("default_acceptance_due")
                    ).where(*reg_cond).subquery("reg")

    def first(cond):
        return sa.func.min(sa.case((cond, f.c.occurred_at), else_=None))

    def any_(cond):
        return sa.func.max(sa.case((cond, 1), else_=0))

    agg = (sa.select(f.c.case_id,
                     first(f.c.kind.in_(DECISIONS)).label("decision_at"),
                     any_(f.c.kind == "CaseNotAccepted").label("not_accepted"),
                     first(sa.and_(f.c.kind == "CaseReplied", f.c.stage == "handling")).label("reply_at"),
                     any_(f.c.kind == "ReviewRequested").label("reviewed"),
                     any_(f.c.kind == "CaseClosed").label("closed"))
           .where(known, f.c.kind.in_(DECISIONS + ("CaseReplied", "ReviewRequested", "CaseClosed")))
           .group_by(f.c.case_id).subquery("agg"))
    acc = _latest(gen, as_of, "DeadlineSet", "acceptance", f.c.due_at)
    hand = _latest(gen, as_of, "DeadlineSet", "handling", f.c.due_at)
    ev = _latest(gen, as_of, "CaseEvaluated", None, f.c.occurred_at, f.c.rating)
    unit = _latest(gen, as_of, "CaseAssigned", "handling", f.c.unit_id)
    rep = (sa.select(f.c.repeat_of.label("case_id")).where(known, f.c.kind == "CaseRegistered", f.c.repeat_of.is_not(None))
           .distinct().subquery("rep"))
    j = (reg.outerjoin(agg, agg.c.case_id == reg.c.case_id)
         .outerjoin(acc, sa.and_(acc.c.case_id == reg.c.case_id, acc.c.rn == 1))
         .outerjoin(hand, sa.and_(hand.c.case_id == reg.c.case_id, hand.c.rn == 1))
         .outerjoin(ev, sa.and_(ev.c.case_id == reg.c.case_id, ev.c.rn == 1))
         .outerjoin(unit, sa.and_(unit.c.case_id == reg.c.case_id, unit.c.rn == 1))
         .outerjoin(rep, rep.c.case_id == reg.c.case_id))
    z = sa.literal(0)
    q = sa.select(
        reg.c.case_id, reg.c.office, reg.c.division_code, reg.c.category_code, reg.c.channel, reg.c.purpose,
        reg.c.headcount, reg.c.received_at, reg.c.first_petition, reg.c.repeat, reg.c.skip_level,
        reg.c.collective, reg.c.law_related, unit.c.unit_id,
        agg.c.decision_at, sa.func.coalesce(agg.c.not_accepted, z).label("not_accepted"),
        sa.func.coalesce(acc.c.due_at, reg.c.default_acceptance_due).label("acceptance_due"),
        agg.c.reply_at, hand.c.due_at.label("handling_due"),
        ev.c.occurred_at.label("eval_at"), ev.c.rating,
        sa.func.coalesce(agg.c.reviewed, z).label("reviewed"),
        sa.func.coalesce(agg.c.closed, z).label("closed"),
        sa.case((rep.c.case_id.is_not(None), 1), else_=0).label("repeated"),
    ).select_from(j)
    if sc.unit_id:
        q = q.where(unit.c.unit_id == sc.unit_id)
    return q.subquery("v")


def _context(db: Database, conn, w: rates.Window, sc: Scope) -> dict:
    return {"period": {"from": w.start.isoformat() if w.start else None, "to": w.end.isoformat() if w.end else None},
            "scope": sc.dict(), "as_of": w.as_of.isoformat()}


def rate_figures(db: Database, w: rates.Window, sc: Scope, r: rates.ReportingRules | None = None) -> dict:
    r = r or rates.rules()
    with db.engine.connect() as c:
        v = case_view(active_generation(c), w.as_of, sc, r)
        defs = rates.definitions(v, w, r)
        cols = [e.label(f"{k}_{part}") for k, (n, d) in defs.items() for part, e in (("n", n), ("d", d))]
        row = c.execute(sa.select(*cols)).mappings().one()
    out = {k: rates.answer(row[f"{k}_n"], row[f"{k}_d"]) for k in rates.RATES}
    return {**out, **_context(db, None, w, sc)}


def rankings(db: Database, w: rates.Window, sc: Scope, rate: str, r: rates.ReportingRules | None = None) -> dict:
    r = r or rates.rules()
    with db.engine.connect() as c:
        v = case_view(active_generation(c), w.as_of, sc, r)
        n, d = rates.definitions(v, w, r)[rate]
        rows = c.execute(sa.select(v.c.unit_id, n.label("n"), d.label("d"))
                         .where(v.c.unit_id.is_not(None)).group_by(v.c.unit_id)).all()
    items = [{"unit_id": u, "unit_name": unit_name(u), **rates.answer(num, den)} for u, num, den in rows]
    items.sort(key=lambda x: (x["rate"] is None, -(x["rate"] or 0), -x["denominator"], x["unit_id"]))
    for i, it in enumerate(items, start=1):
        it["rank"] = i
    return {"rate": rate, "rate_zh": rates.RATE_NAMES_ZH[rate], "rows": items, **_context(db, None, w, sc)}


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


def summary(db: Database, w: rates.Window, sc: Scope, r: rates.ReportingRules | None = None) -> dict:
    """Counts of the cases received in the period (batches 批次 and person-times 人次)."""
    r = r or rates.rules()
    with db.engine.connect() as c:
        v = case_view(active_generation(c), w.as_of, sc, r)
        m = c.execute(sa.select(*_counts(v, w, r)).where(w.holds(v.c.received_at))).mappings().one()
        by_channel = dict(c.execute(sa.select(v.c.channel, sa.func.count()).where(w.holds(v.c.received_at))
                                    .group_by(v.c.channel)).all())
    return {**_row(m), "by_channel": {k: int(n) for k, n in sorted(by_channel.items())}, **_context(db, None, w, sc)}


BREAKDOWNS = ("channel", "category", "purpose", "division", "unit", "month")


def breakdown(db: Database, w: rates.Window, sc: Scope, by: str, r: rates.ReportingRules | None = None) -> dict:
    r = r or rates.rules()
    with db.engine.connect() as c:
        v = case_view(active_generation(c), w.as_of, sc, r)
        if by == "month":
            rows = _by_month(c, v, w, r)
        else:
            key = {"channel": v.c.channel, "category": v.c.category_code, "purpose": v.c.purpose,
                   "division": v.c.division_code, "unit": v.c.unit_id}[by]
            found = c.execute(sa.select(key.label("key"), *_counts(v, w, r)).where(w.holds(v.c.received_at))
                              .group_by(key).order_by(key)).mappings().all()
            rows = [{"key": m["key"], "label": label(by, m["key"]), **_row(m)} for m in found]
    return {"by": by, "rows": rows, **_context(db, None, w, sc)}


def _by_month(c, v, w: rates.Window, r: rates.ReportingRules) -> list[dict]:
    """Months in the reporting time zone; folded here, as the SQL of SQLite and PostgreSQL differ."""
    tz = ZoneInfo(r.timezone)
    found = c.execute(sa.select(v.c.received_at, *_counts(v, w, r)).where(w.holds(v.c.received_at))
                      .group_by(v.c.received_at)).mappings().all()
    months: dict[str, dict] = defaultdict(lambda: dict.fromkeys(COUNT_KEYS, 0))
    for m in found:
        acc = months[m["received_at"].astimezone(tz).strftime("%Y-%m")]
        for k in COUNT_KEYS:
            acc[k] += int(m[k] or 0)
    rows = []
    for k in sorted(months):
        row = dict(months[k])
        row["online_share"] = round(row["online"] / row["registered"], 4) if row["registered"] else None
        rows.append({"key": k, "label": f"{k[:4]}年{int(k[5:])}月", **row})
    return rows


def unit_name(unit_id: str | None) -> str | None:
    if unit_id is None:
        return None
    u = next((u for u in _units() if u.unit_id == unit_id), None)
    return u.name if u else unit_id


def label(by: str, key: str | None) -> str | None:
    if key is None:
        return "未交办" if by == "unit" else None
    if by == "channel":
        return CHANNEL_ZH.get(key, key)
    if by == "purpose":
        return PURPOSE_ZH.get(key, key)
    if by == "division":
        d = _division(key)
        return d.name if d else key
    if by == "unit":
        return unit_name(key)
    if by == "category":
        leaf = category_leaf(key)
        return f"{leaf[1]}／{leaf[0]}" if leaf else key
    return key

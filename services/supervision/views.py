"""The queries supervision's API answers: a case's deadlines, the warning, overdue and backlog
lists, supervision orders, collective-visit alerts, the ticker's lag. Read-only, each on a read
connection, in the caller's scope."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from services.supervision import domain
from services.supervision.adapters import alerts, cases, checkpoints, deadlines, orders, utcnow
from xinfang.errors import NotFound
from xinfang.security import Principal, division_prefix
from xinfang.storage import Database


def _scope(table, me: Principal):
    if me.role == "handler":
        return table.c.unit_id == me.unit_id
    return table.c.office.like(f"{me.prefix}%")


def _page(c, stmt, limit: int, offset: int) -> tuple[list, int]:
    total = c.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar()
    rows = c.execute(stmt.limit(limit).offset(offset)).mappings().all()
    return rows, int(total)


def get_deadlines(db: Database, user: Principal, case_id: str, rules: domain.DeadlineRules,
                  now: datetime | None = None) -> dict:
    now = now or utcnow()
    with db.read() as c:
        rows = c.execute(sa.select(deadlines).where(deadlines.c.case_id == case_id)
                         .order_by(deadlines.c.starts_at, deadlines.c.stage)).mappings().all()
    if not rows or not user.can_see_case(office=rows[0]["office"], unit_id=rows[0]["unit_id"]):
        raise NotFound(f"no deadlines for case {case_id}", f"信访事项 {case_id} 尚无办理时限或不存在")
    stages = []
    for r in rows:
        clock = domain.Clock(r["stage"], r["starts_at"], r["due_at"], r["limit_days"], r["day_kind"], r["basis"])
        until = r["met_at"] if r["status"] != "running" else now
        level = clock.level_at(until, rules.level_shares)
        if r["status"] == "running":
            status = "overdue" if level == "overdue" else ("lapsed" if not clock.warned and now >= clock.due_at
                                                           else "running")
        else:
            status = r["status"]
        stages.append({"stage": r["stage"], "starts_at": r["starts_at"], "due_at": r["due_at"],
                       "limit_days": r["limit_days"], "day_kind": r["day_kind"], "basis": r["basis"],
                       "share_used": round(clock.share_used(until), 4), "level": level, "status": status,
                       "met_at": r["met_at"], "on_time": r["on_time"], "unit_id": r["unit_id"],
                       "warning": r["warning"]})
    return {"case_id": case_id, "stages": stages,
            "warnings": sorted({s["warning"] for s in stages if s["warning"]})}


def _clock_item(r) -> dict:
    return {"case_id": r["case_id"], "stage": r["stage"], "due_at": r["due_at"], "level": r["level"],
            "unit_id": r["unit_id"], "division_code": r["division_code"]}


def _filters(stmt, unit_id, division_code):
    if unit_id:
        stmt = stmt.where(deadlines.c.unit_id == unit_id)
    if division_code:
        stmt = stmt.where(deadlines.c.division_code.like(f"{division_prefix(division_code)}%"))
    return stmt


def list_warnings(db: Database, me: Principal, *, unit_id=None, division_code=None, level=None,
                  limit=50, offset=0, now: datetime | None = None) -> dict:
    now = now or utcnow()
    levels = [level] if level else ["notice", "warning", "serious_warning"]
    stmt = (sa.select(deadlines).where(_scope(deadlines, me), deadlines.c.status == "running",
                                       deadlines.c.level.in_(levels), deadlines.c.due_at > now)
            .order_by(deadlines.c.due_at))
    stmt = _filters(stmt, unit_id, division_code)
    with db.read() as c:
        rows, total = _page(c, stmt, limit, offset)
    return {"items": [_clock_item(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def _overdue_stmt(me: Principal, now: datetime):
    return (sa.select(deadlines, cases.c.owner_leader)
            .select_from(deadlines.outerjoin(cases, cases.c.case_id == deadlines.c.case_id))
            .where(_scope(deadlines, me), deadlines.c.status == "running",
                   deadlines.c.stage.in_(sorted(domain.WARNED_STAGES)), deadlines.c.due_at <= now)
            .order_by(deadlines.c.due_at))


def list_overdue(db: Database, me: Principal, *, unit_id=None, division_code=None, limit=50, offset=0,
                 now: datetime | None = None) -> dict:
    now = now or utcnow()
    stmt = _filters(_overdue_stmt(me, now), unit_id, division_code)
    with db.read() as c:
        rows, total = _page(c, stmt, limit, offset)
    return {"items": [{**_clock_item(r), "level": "overdue"} for r in rows], "total": total, "limit": limit,
            "offset": offset}


def list_backlog(db: Database, me: Principal, *, unit_id=None, division_code=None, owner_leader=None, limit=50,
                 offset=0, now: datetime | None = None) -> dict:
    """积案 ledger: cases still open past a stage's limit, oldest first, with the leader who owns them
    (``owner_leader``: only that leader's)."""
    now = now or utcnow()
    stmt = _filters(_overdue_stmt(me, now), unit_id, division_code)
    if owner_leader:
        stmt = stmt.where(cases.c.owner_leader == owner_leader)
    with db.read() as c:
        rows, total = _page(c, stmt, limit, offset)
    items = [{"case_id": r["case_id"], "stage": r["stage"], "due_at": r["due_at"],
              "days_overdue": (now - r["due_at"]).days, "unit_id": r["unit_id"],
              "division_code": r["division_code"], "owner_leader": r["owner_leader"]} for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def order_view(o) -> dict:
    """An order as the API shows it, from its row (``orders`` columns)."""
    return {k: o.get(k) for k in ("order_id", "case_id", "unit_id", "requirement", "reply_by", "issued_by",
                                  "issued_at", "status", "answer", "answered_at", "answered_by", "escalated_to",
                                  "escalated_at")}


def list_orders(db: Database, me: Principal, *, status=None, case_id=None, limit=50, offset=0) -> dict:
    stmt = sa.select(orders).where(_scope(orders, me)).order_by(orders.c.issued_at.desc())
    if status:
        stmt = stmt.where(orders.c.status == status)
    if case_id:
        stmt = stmt.where(orders.c.case_id == case_id)
    with db.read() as c:
        rows, total = _page(c, stmt, limit, offset)
    return {"items": [order_view(dict(r)) for r in rows], "total": total, "limit": limit, "offset": offset}


def list_alerts(db: Database, me: Principal, *, limit=50, offset=0) -> dict:
    if me.role == "handler":  # a unit's handler sees its own cases' alerts only
        where = alerts.c.case_id.in_(sa.select(cases.c.case_id).where(cases.c.unit_id == me.unit_id))
    else:
        where = alerts.c.office.like(f"{me.prefix}%")
    stmt = sa.select(alerts).where(where).order_by(alerts.c.raised_at.desc())
    with db.read() as c:
        rows, total = _page(c, stmt, limit, offset)
    items = [{"alert_id": r["alert_id"], "case_id": r["case_id"], "headcount": r["headcount"],
              "threshold": r["threshold"], "level": r["level"], "raised_at": r["raised_at"],
              "division_code": r["division_code"]} for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def pending_checkpoints(db: Database, now: datetime | None = None) -> dict:
    """How far the ticker is behind: the age of the oldest checkpoint already due."""
    now = now or utcnow()
    with db.read() as c:
        overdue = c.execute(sa.select(sa.func.min(checkpoints.c.fire_at))).scalar()
    lag = max(0.0, (now - overdue).total_seconds()) if overdue and overdue <= now else 0.0
    return {"checkpoint_lag_s": round(lag, 1)}

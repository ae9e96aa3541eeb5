"""The queries supervision's API answers: a case's deadlines, the warning, overdue and backlog
lists, supervision orders, collective-visit alerts, the ticker's lag. Read-only, each on a read
connection, in the caller's scope."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from services.supervision import domain
from services.supervision.adapters import alerts, cases, checkpoints, deadlines, orders, utcnow
from xinfang.contracts import decode, registry
from xinfang.errors import NotFound
from xinfang.security import Principal, division_prefix
from xinfang.storage import Database
from xinfang.storage.tables import events
from xinfang.workdays import WorkCalendar


def _scope(table, me: Principal):
    if me.role == "handler":
        return table.c.unit_id == me.unit_id
    return table.c.office.like(f"{me.prefix}%")


def _page(c, stmt, limit: int, offset: int) -> tuple[list, int]:
    total = c.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar()
    rows = c.execute(stmt.limit(limit).offset(offset)).mappings().all()
    return rows, int(total)


def get_deadlines(db: Database, user: Principal, case_id: str, rules: domain.DeadlineRules,
                  now: datetime | None = None, calendar: WorkCalendar | None = None) -> dict:
    """Each stage's clock; and ``acceptance_promise``, the day by which the petitioner is told
    whether the case is accepted, counted from its receipt with the acceptance limit (2022
    第二十三条): what the receipt (受理凭证) promises."""
    now = now or utcnow()
    with db.read() as c:
        rows = c.execute(sa.select(deadlines).where(deadlines.c.case_id == case_id)
                         .order_by(deadlines.c.starts_at, deadlines.c.stage)).mappings().all()
    if not rows or not user.can_see_case(office=rows[0]["office"], unit_id=rows[0]["unit_id"]):
        raise NotFound(f"no deadlines for case {case_id}", "该信访事项尚无办理时限、不存在或您无权查看")
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
    received = next((r["starts_at"] for r in rows if r["stage"] == "assignment"), None)
    promise = None if received is None else {
        "due_at": rules.acceptance_promise(received, calendar or WorkCalendar.default()),
        "limit_days": rules.acceptance_days, "day_kind": rules.acceptance_day_kind, "basis": "received_at"}
    return {"case_id": case_id, "stages": stages, "acceptance_promise": promise,
            "warnings": sorted({s["warning"] for s in stages if s["warning"]})}


def current_deadlines(db: Database, me: Principal, case_ids, rules: domain.DeadlineRules,
                      now: datetime | None = None) -> dict:
    """For a page of cases at once (a list of the console): each case's clock that runs now, the
    stage the case waits on (the running warned clock due soonest: 交转办 before 受理 before the
    provisional 办理 clock), with its due instant and its level now. A case with no running clock,
    or outside the caller's scope, is left out."""
    now = now or utcnow()
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        return {"items": []}
    with db.read() as c:  # by the primary key (case_id, stage): one index lookup per case; the
        # status written so that no index serves it, else SQLite took (status, due_at) and read
        # every running clock (165 ms at 100,000 open cases, against 1 ms)
        rows = c.execute(sa.select(deadlines).where(deadlines.c.case_id.in_(ids),
                                                    deadlines.c.status.concat("") == "running",
                                                    deadlines.c.stage.in_(sorted(domain.WARNED_STAGES)),
                                                    _scope(deadlines, me))).mappings().all()
    soonest: dict[str, dict] = {}
    for r in rows:
        if r["case_id"] not in soonest or r["due_at"] < soonest[r["case_id"]]["due_at"]:
            soonest[r["case_id"]] = r
    items = []
    for cid in ids:
        if (r := soonest.get(cid)) is None:
            continue
        clock = domain.Clock(r["stage"], r["starts_at"], r["due_at"], r["limit_days"], r["day_kind"], r["basis"])
        items.append({"case_id": cid, "stage": r["stage"], "due_at": r["due_at"],
                      "level": clock.level_at(now, rules.level_shares), "unit_id": r["unit_id"]})
    return {"items": items}


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
                 offset=0, now: datetime | None = None, after_days: int = 30) -> dict:
    """积案 ledger: cases whose reply is more than ``after_days`` past its handling deadline, oldest
    first, with the leader who owns them (``owner_leader``: only that leader's). The same
    definition as reporting's 积案 count (docs/rates.md), so the ledger lists what the count counts."""
    now = now or utcnow()
    stmt = (sa.select(deadlines, cases.c.owner_leader)
            .select_from(deadlines.outerjoin(cases, cases.c.case_id == deadlines.c.case_id))
            .where(_scope(deadlines, me), deadlines.c.status == "running", deadlines.c.stage == "handling",
                   deadlines.c.due_at < now - timedelta(days=after_days))
            .order_by(deadlines.c.due_at))
    stmt = _filters(stmt, unit_id, division_code)
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
                                  "issuer_jurisdiction", "issued_at", "status", "answer", "answered_at", "answered_by",
                                  "escalated_to", "escalated_at")}


def list_orders(db: Database, me: Principal, *, status=None, case_id=None, limit=50, offset=0) -> dict:
    stmt = sa.select(orders).where(_scope(orders, me)).order_by(orders.c.issued_at.desc())
    if status:
        stmt = stmt.where(orders.c.status == status)
    if case_id:
        stmt = stmt.where(orders.c.case_id == case_id)
    with db.read() as c:
        rows, total = _page(c, stmt, limit, offset)
    return {"items": [order_view(dict(r)) for r in rows], "total": total, "limit": limit, "offset": offset}


def list_reminders(db: Database, me: Principal, case_id: str) -> dict:
    """催办 of a case, newest first: what was asked, of which unit, by whom and when (the
    ReminderSent events on the case's stream). A handler reads those sent to its own unit."""
    with db.read() as c:
        case = c.execute(sa.select(cases.c.office, cases.c.unit_id).where(cases.c.case_id == case_id)).first()
        if case is None or not me.can_see_case(office=case.office, unit_id=case.unit_id):
            raise NotFound(f"no case {case_id}", "该信访事项不存在或您无权查看")
        rows = c.execute(sa.select(events.c.body).where(events.c.stream_id == case_id,
                                                        events.c.event_type == "ReminderSent")
                         .order_by(events.c.version.desc())).scalars().all()
    items = []
    for body in rows:
        env = decode(body)
        p = registry.payload(env)
        if me.role == "handler" and p.unit_id != me.unit_id:
            continue
        items.append({"case_id": case_id, "text": p.text, "unit_id": p.unit_id, "sent_at": env.occurred_at,
                      "sent_by": env.actor})
    return {"items": items, "total": len(items)}


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

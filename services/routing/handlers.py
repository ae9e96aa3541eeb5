"""Routing's service layer for cases: automatic assignment on registration, the dispatcher's
assignment, the unit's signing and objection, leader ownership, review routing, read models.

Every command loads the case's routing events (under a row lock on its read-model row), asks the
domain for new events, appends them with their outbox rows and updates the read model in the same
transaction.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.routing import domain
from services.routing.adapters import assignments, co_handling, units, users
from services.routing.organisation import SqlDirectory
from xinfang.auth import Forbidden, require_role
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.contracts.events import (
    CaseAccepted,
    CaseAssigned,
    CaseClosed,
    CaseNotAccepted,
    CaseObjected,
    CaseOwnedByLeader,
    CaseRegistered,
    CaseReplied,
    CaseSignedFor,
    ReviewRequested,
)
from xinfang.errors import InvalidInput, NotFound
from xinfang.security import Principal
from xinfang.storage import ConcurrencyConflict, Database, ReadView, UnitOfWork
from xinfang.workdays import WorkCalendar

PRODUCER = "routing"
SYSTEM = "system:routing"
RULES = domain.RoutingRules()
_calendar: WorkCalendar | None = None


def calendar() -> WorkCalendar:
    global _calendar
    if _calendar is None:
        _calendar = WorkCalendar.default()
    return _calendar


def _not_found(case_id: str) -> NotFound:
    return NotFound(f"no assignment for case {case_id}", f"信访事项 {case_id} 尚未交办或不存在")


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ the read model


# built once: a statement built per call cost more than running it (SQLAlchemy derives each new
# statement's cache key), and the consumer reads and writes a case's row for every event
_ROW = sa.select(assignments).where(assignments.c.case_id == sa.bindparam("k_case"))
_ROW_LOCKED = _ROW.with_for_update()
_UPDATE_ROW = assignments.update().where(assignments.c.case_id == sa.bindparam("k_case"))
_INSERT_ROW = assignments.insert()
_DELETE_CO = co_handling.delete().where(co_handling.c.case_id == sa.bindparam("k_case"))


def _row(uow: UnitOfWork, case_id: str, lock: bool = False):
    return uow.execute(_ROW_LOCKED if lock else _ROW, {"k_case": case_id}).mappings().first()


def _update(uow: UnitOfWork, case_id: str, **values) -> None:
    """Change the row and recompute its inbox state, under the row's lock (the API and the
    consumer may change one case at the same time)."""
    row = dict(_row(uow, case_id, lock=True))
    row.update(values)
    values["inbox_state"] = domain.inbox_state(row["state"], row["stage"], row["intake_state"])
    uow.execute(_UPDATE_ROW, {"k_case": case_id, **values})


def _project(uow: UnitOfWork, env: Envelope) -> None:
    """Routing's own events into the assignment read model."""
    p = registry.payload(env)
    at = env.occurred_at
    by_user = None if env.actor.startswith("system:") else env.actor
    if isinstance(p, CaseAssigned):
        _update(uow, env.case_id, unit_id=p.unit_id, co_unit_ids=json.dumps(p.co_unit_ids), state="to_sign",
                stage=p.stage, mode=p.mode, rule=p.rule, rule_id=_rule_id(p.rule), chosen_by=by_user,
                reason=p.reason, assigned_at=at, state_since=at, objection_reason=None, queue_reason=None)
        uow.execute(_DELETE_CO, {"k_case": env.case_id})
        if p.co_unit_ids:
            uow.execute(co_handling.insert(), [{"case_id": env.case_id, "unit_id": u} for u in dict.fromkeys(p.co_unit_ids)])
    elif isinstance(p, CaseSignedFor):
        _update(uow, env.case_id, state="signed", state_since=at)
    elif isinstance(p, CaseObjected):
        _update(uow, env.case_id, state="objected", state_since=at, objection_reason=p.reason)
    elif isinstance(p, CaseOwnedByLeader):
        _update(uow, env.case_id, owner_leader=p.leader)


def _rule_id(rule: str | None) -> str | None:
    if rule and rule.startswith("rule "):
        return rule[5:].split(":", 1)[0]
    return None


def _append(uow: UnitOfWork, case_id: str, office: str, expected: int, payload, actor: str,
            occurred_at: datetime | None = None, causation: Envelope | None = None) -> Envelope:
    env = new_envelope(payload, case_id=case_id, office=office, actor=actor, producer=PRODUCER,
                       occurred_at=occurred_at, causation=causation)
    [stored] = uow.append(case_id, expected, [env])
    _project(uow, stored)
    return stored


def _retryable(fn):
    """A concurrent writer on the same case: let the stream processor retry the event."""
    def wrapper(uow: UnitOfWork, env: Envelope) -> None:
        try:
            fn(uow, env)
        except ConcurrencyConflict as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise exc.__cause__ from exc
            raise
    wrapper.__name__ = fn.__name__
    return wrapper


# ------------------------------------------------------------------ consumed: intake's events


@_retryable
def on_intake_event(uow: UnitOfWork, env: Envelope) -> None:
    p = registry.payload(env)
    if isinstance(p, CaseRegistered):
        on_case_registered(uow, env)
    elif isinstance(p, ReviewRequested):
        on_review_requested(uow, env, p)
    elif isinstance(p, (CaseAccepted, CaseNotAccepted, CaseReplied, CaseClosed)):
        if _row(uow, env.case_id) is None:
            return
        state = "accepted" if isinstance(p, CaseAccepted) else "done"
        _update(uow, env.case_id, intake_state=state)


def on_case_registered(uow: UnitOfWork, env: Envelope) -> None:
    """A new case: assign it by the routing rules, once. A republished registration finds its row
    and changes nothing; rules changed since never re-route it."""
    if _row(uow, env.case_id) is not None:
        return  # the row and the assignment are written together: the case was routed already
    reg: CaseRegistered = registry.payload(env)
    d = SqlDirectory(uow.conn)
    decision = domain.choose_unit(reg.division_code, reg.category_code,
                                  d.rules_matching(reg.division_code, reg.category_code), d)
    row = dict(case_id=env.case_id, office=env.office, division_code=reg.division_code,
               category_code=reg.category_code, unit_id=None, rule=None, assigned_at=None, state="unassigned",
               stage="handling", co_unit_ids="[]", state_since=env.occurred_at, queue_reason=decision.rule,
               intake_state="open", inbox_state=None, summary=reg.summary[:200])
    if decision.unit_id:
        # a live case is assigned now, whenever the letter arrived. A case imported from the old
        # system is deemed assigned and signed for when it was registered there: its unit has held
        # it since, and its later steps (acceptance, reply …) follow from the import in the past
        at = env.occurred_at if reg.imported else env.recorded_at
        made = [CaseAssigned(unit_id=decision.unit_id, mode="assign", rule=decision.rule, imported=reg.imported)]
        if reg.imported:
            made.append(CaseSignedFor(unit_id=decision.unit_id))
        uow.append(env.case_id, 0, [new_envelope(p, case_id=env.case_id, office=env.office, actor=SYSTEM,
                                                 producer=PRODUCER, occurred_at=at, causation=env) for p in made])
        state = "signed" if reg.imported else "to_sign"
        row.update(unit_id=decision.unit_id, rule=decision.rule, rule_id=decision.rule_id, mode="assign",
                   assigned_at=at, state=state, state_since=at, queue_reason=None,
                   inbox_state=domain.inbox_state(state, "handling", "open"))
    uow.execute(_INSERT_ROW, row)


def on_review_requested(uow: UnitOfWork, env: Envelope, p: ReviewRequested) -> None:
    """复查 / 复核: to the petition office of the level above the unit that replied."""
    row = _row(uow, env.case_id, lock=True)
    if row is None:
        return
    history = uow.load(env.case_id)
    if any(e.causation_id == env.event_id for e in history):
        return  # this request was routed already
    agg = domain.Assignment.from_events(env.case_id, history)
    d = SqlDirectory(uow.conn)
    replying = d.unit(agg.unit_id) if agg.unit_id else None
    decision = domain.review_office(replying, p.level, d)
    at = max(env.occurred_at, agg.last_at) if agg.last_at else env.occurred_at
    if decision.unit_id is None:
        _update(uow, env.case_id, state="unassigned", stage=p.level, intake_state="open", state_since=at,
                queue_reason=decision.rule)
        return
    _update(uow, env.case_id, intake_state="open")
    _append(uow, env.case_id, row["office"], agg.version,
            CaseAssigned(unit_id=decision.unit_id, mode="forward", rule=decision.rule, reason=p.reason,
                         previous_unit_id=agg.unit_id, stage=p.level),
            SYSTEM, occurred_at=at, causation=env)


# ------------------------------------------------------------------ commands


def _load(uow: UnitOfWork, user: Principal, case_id: str):
    row = _row(uow, case_id, lock=True)
    if row is None or not _can_see(user, row):
        raise _not_found(case_id)
    return row, domain.Assignment.from_events(case_id, uow.load(case_id))


def _can_see(user: Principal, row) -> bool:
    if user.role == "handler":
        return user.unit_id is not None and (user.unit_id == row["unit_id"]
                                             or user.unit_id in json.loads(row["co_unit_ids"]))
    return user.in_jurisdiction(row["office"])


def _when(agg: domain.Assignment, occurred_at: datetime | None) -> datetime:
    now = _now()
    at = occurred_at or now
    agg.check_time(at, now, RULES)
    return at


def assign(db: Database, user: Principal, case_id: str, unit_id: str, reason: str, mode: str = "assign",
           co_unit_ids: list[str] = (), occurred_at: datetime | None = None) -> dict:
    """The dispatcher assigns (交办), forwards (转送) or reassigns (改派) by hand."""
    require_role(user, "dispatcher", "admin")
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, case_id)
        d = SqlDirectory(uow.conn)
        lead = d.unit(unit_id)
        if lead is None or not lead.active:
            raise InvalidInput(f"unit {unit_id} does not exist or is inactive", f"单位 {unit_id} 不存在或已停用",
                               field="unit_id")
        co = []
        for u in co_unit_ids:
            info = d.unit(u)
            if info is None or not info.active:
                raise InvalidInput(f"unit {u} does not exist or is inactive", f"单位 {u} 不存在或已停用",
                                   field="co_unit_ids")
            co.append(info)
        at = _when(agg, occurred_at)
        rule = None
        if domain.spans_regions_or_departments(lead, co):
            office = d.unit_of_kind("joint_conference_office", row["division_code"][:6] + "000000")
            if office is not None:
                others = [u.unit_id for u in [lead, *co] if u.unit_id != office]
                unit_id, co_unit_ids = office, others
                rule = (f"{domain.CROSS_RULE}: the handling units span more than one division or department; "
                        f"the joint-conference office {office} leads (三跨三分离)")
        event = agg.reassign(unit_id, reason=reason, mode=mode, co_unit_ids=list(co_unit_ids),
                             stage=row["stage"], rule=rule)
        _append(uow, case_id, row["office"], agg.version, event, user.username, occurred_at=at)
    return get_assignment(db, user, case_id)


def sign(db: Database, user: Principal, case_id: str, occurred_at: datetime | None = None) -> dict:
    """签收: the assigned unit takes the case, once."""
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, case_id)
        at = _when(agg, occurred_at)
        _append(uow, case_id, row["office"], agg.version, agg.sign(user.unit_id), user.username, occurred_at=at)
    return get_assignment(db, user, case_id)


def object_to(db: Database, user: Principal, case_id: str, reason: str, occurred_at: datetime | None = None) -> dict:
    """异议 / 退回: not the unit's remit; within the window the case returns to the dispatcher."""
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, case_id)
        at = _when(agg, occurred_at)
        event = agg.object(user.unit_id, reason, at, calendar(), RULES)
        _append(uow, case_id, row["office"], agg.version, event, user.username, occurred_at=at)
    return get_assignment(db, user, case_id)


def take_ownership(db: Database, user: Principal, case_id: str, leader: str, note: str | None) -> dict:
    """包案: a leader takes personal charge (a leader for themself, or a dispatcher or admin naming one)."""
    require_role(user, "leader", "dispatcher", "admin")
    if user.role == "leader" and leader != user.username:
        raise InvalidInput("a leader takes a case for themself", "领导只能本人包案", field="leader")
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, case_id)
        who = uow.execute(sa.select(users).where(users.c.username == leader)).mappings().first()
        if who is None or not who["active"] or who["role"] != "leader" or \
                not row["office"].startswith(Principal(leader, "leader", who["jurisdiction"]).prefix):
            raise InvalidInput(f"{leader} is not an active leader with jurisdiction over the case",
                               f"{leader} 不是对该事项有管辖权的在职领导", field="leader")
        event = agg.take_ownership(leader, note)
        _append(uow, case_id, row["office"], agg.version, event, user.username)
    return get_assignment(db, user, case_id)


# ------------------------------------------------------------------ queries


def get_assignment(db: Database, user: Principal, case_id: str) -> dict:
    # a read connection: on SQLite a read through the writer's engine waited behind the consumer's
    # batches (485 ms a case file while routing caught up with an import)
    with ReadView(db) as uow:
        row = _row(uow, case_id)
        if row is None or not _can_see(user, row):
            raise _not_found(case_id)
        history = uow.load(case_id)
        names = dict(uow.execute(sa.select(units.c.unit_id, units.c.name)).all())
    out = []
    for e in history:
        p = registry.payload(e)
        out.append({"at": e.occurred_at, "event": e.event_type, "unit_id": getattr(p, "unit_id", None),
                    "by": e.actor, "rule": getattr(p, "rule", None),
                    "reason": getattr(p, "reason", None) or getattr(p, "note", None),
                    **({"stage": p.stage, "co_unit_ids": p.co_unit_ids, "previous_unit_id": p.previous_unit_id,
                        "mode": p.mode} if isinstance(p, CaseAssigned) else {}),
                    **({"leader": p.leader} if isinstance(p, CaseOwnedByLeader) else {})})
    chosen = ({"user": row["chosen_by"], "reason": row["reason"], "rule": row["rule"]} if row["chosen_by"]
              else {"rule": row["rule"], "reason": row["reason"]} if row["unit_id"] else
              {"rule": None, "reason": row["queue_reason"]})
    return {
        "case_id": case_id, "unit_id": row["unit_id"], "unit_name": names.get(row["unit_id"]),
        "co_unit_ids": json.loads(row["co_unit_ids"]), "state": row["state"], "stage": row["stage"],
        "mode": row["mode"], "rule": row["rule"], "rule_id": row["rule_id"], "chosen_by": chosen,
        "assigned_at": row["assigned_at"], "owner_leader": row["owner_leader"],
        "objection_reason": row["objection_reason"], "history": out,
    }


INBOX_STATES = ("to_sign", "to_accept", "in_hand", "objected")


def inbox(db: Database, user: Principal, unit_id: str, state: str | None, limit: int, offset: int) -> dict:
    """A unit's inbox (待签收、待受理、办理中、已提异议) with counts, and apart from them the open
    cases it is asked to help with (``co_handling``, 协办), each with its lead unit."""
    with db.read() as c:
        unit = SqlDirectory(c).unit(unit_id)
        visible = unit is not None and (user.unit_id == unit_id if user.role == "handler"
                                        else user.in_jurisdiction(unit.division_code) or user.unit_id == unit_id)
        if not visible:
            raise NotFound(f"no unit {unit_id}", f"单位 {unit_id} 不存在")
        # another unit's inbox shows only the cases in the reader's jurisdiction
        in_office = ([assignments.c.office.startswith(user.prefix)]
                     if user.role != "handler" and user.unit_id != unit_id else [])
        scope = [assignments.c.unit_id == unit_id, assignments.c.inbox_state.is_not(None), *in_office]
        counts = dict(c.execute(sa.select(assignments.c.inbox_state, sa.func.count())
                                .where(*scope).group_by(assignments.c.inbox_state)).all())
        helping = [co_handling.c.unit_id == unit_id, assignments.c.intake_state != "done", *in_office]
        co = sa.select(assignments).join(co_handling, co_handling.c.case_id == assignments.c.case_id)
        counts["co_handling"] = c.execute(sa.select(sa.func.count()).select_from(co.where(*helping).subquery())).scalar()
        if state == "co_handling":
            q = co.where(*helping)
        else:
            q = sa.select(assignments).where(*scope)
            if state:
                q = q.where(assignments.c.inbox_state == state)
        rows = c.execute(q.order_by(assignments.c.state_since, assignments.c.case_id)
                         .limit(limit).offset(offset)).mappings().all()
        d = SqlDirectory(c)
        leads = {u: d.unit_name(u) for u in {r["unit_id"] for r in rows}} if state == "co_handling" else {}
    counts = {s: counts.get(s, 0) for s in (*INBOX_STATES, "co_handling")}
    return {
        "unit_id": unit_id, "counts": counts, "limit": limit, "offset": offset,
        # the rows this state has (the pager's); the inbox's own states without one
        "total": counts[state] if state else sum(counts[s] for s in INBOX_STATES),
        "items": [{"case_id": r["case_id"], "state": "co_handling" if state == "co_handling" else r["inbox_state"],
                   "lead_unit_id": r["unit_id"], "lead_unit_name": leads.get(r["unit_id"]), "assigned_at": r["assigned_at"],
                   "since": r["state_since"], "stage": r["stage"], "division_code": r["division_code"],
                   "category_code": r["category_code"], "summary": r["summary"], "owner_leader": r["owner_leader"],
                   "co_unit_ids": json.loads(r["co_unit_ids"])} for r in rows],
    }


def owned_cases(db: Database, user: Principal, leader: str | None, limit: int, offset: int) -> dict:
    """包案: the cases a leader has taken personal charge of, in the caller's jurisdiction; those still
    open first, each group longest in its state first. A leader sees their own; a supervisor,
    dispatcher or admin names the leader."""
    require_role(user, "leader", "supervisor", "dispatcher", "admin")
    if user.role == "leader":
        if leader not in (None, "", user.username):
            raise Forbidden("a leader sees the cases they own, not another leader's",
                            "领导只能查看本人包案的事项")
        leader = user.username
    elif not leader:
        raise InvalidInput("leader: required (the leader whose cases to list)", "leader：必填（要查看的包案领导）",
                           field="leader")
    scope = [assignments.c.owner_leader == leader, assignments.c.office.startswith(user.prefix)]
    done = sa.case((assignments.c.intake_state == "done", 1), else_=0)
    with db.read() as c:
        counts = dict(c.execute(sa.select(done, sa.func.count()).where(*scope).group_by(done)).all())
        rows = c.execute(sa.select(assignments).where(*scope)
                         .order_by(done, assignments.c.state_since, assignments.c.case_id)
                         .limit(limit).offset(offset)).mappings().all()
    return {
        "leader": leader, "counts": {"open": counts.get(0, 0), "done": counts.get(1, 0)},
        "total": counts.get(0, 0) + counts.get(1, 0), "limit": limit, "offset": offset,
        "items": [{"case_id": r["case_id"], "unit_id": r["unit_id"], "state": r["state"], "stage": r["stage"],
                   "inbox_state": r["inbox_state"], "done": r["intake_state"] == "done", "since": r["state_since"],
                   "assigned_at": r["assigned_at"], "division_code": r["division_code"],
                   "category_code": r["category_code"], "summary": r["summary"]} for r in rows],
    }


QUEUE_STATES = {"unassigned": "unassigned", "returned": "objected"}


def queue(db: Database, user: Principal, state: str | None, limit: int, offset: int) -> dict:
    """The dispatcher's queue: cases nobody holds (unassigned) or a unit returned (returned)."""
    require_role(user, "dispatcher", "admin", "leader")
    wanted = [QUEUE_STATES[state]] if state else list(QUEUE_STATES.values())
    scope = [assignments.c.state.in_(list(QUEUE_STATES.values())), assignments.c.office.startswith(user.prefix)]
    with db.read() as c:
        d = SqlDirectory(c)
        counts = dict(c.execute(sa.select(assignments.c.state, sa.func.count()).where(*scope)
                                .group_by(assignments.c.state)).all())
        rows = c.execute(sa.select(assignments).where(*scope, assignments.c.state.in_(wanted))
                         .order_by(assignments.c.state_since, assignments.c.case_id)
                         .limit(limit).offset(offset)).mappings().all()
        items = []
        for r in rows:
            exclude = r["unit_id"] if r["state"] == "objected" else None
            s = domain.choose_unit(r["division_code"], r["category_code"],
                                   d.rules_matching(r["division_code"], r["category_code"]), d, exclude=exclude)
            items.append({"case_id": r["case_id"], "state": "returned" if r["state"] == "objected" else "unassigned",
                          "since": r["state_since"], "stage": r["stage"], "unit_id": r["unit_id"],
                          "suggested": {"unit_id": s.unit_id, "rule": s.rule},
                          "objection_reason": r["objection_reason"], "reason": r["queue_reason"],
                          "division_code": r["division_code"], "category_code": r["category_code"],
                          "summary": r["summary"], "owner_leader": r["owner_leader"]})
    by_state = {k: counts.get(v, 0) for k, v in QUEUE_STATES.items()}
    return {"counts": by_state, "total": by_state[state] if state else sum(by_state.values()), "limit": limit,
            "offset": offset, "items": items}

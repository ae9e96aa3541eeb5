"""What supervision's consumer applies: intake's and routing's case events into its read models,
the case's clocks (``sv_cases``, ``deadlines``), the checkpoints the ticker fires and the
collective-visit alerts, with the events they cause (DeadlineSet, DeadlineMet, the crossings a
stopped clock had passed, CollectiveVisitAlerted) appended in the same transaction."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime

from services.supervision import adapters, domain, handlers
from services.supervision.adapters import utcnow
from xinfang.contracts import Envelope, registry
from xinfang.contracts.events import (
    CaseAccepted,
    CaseAssigned,
    CaseNotAccepted,
    CaseOwnedByLeader,
    CaseRegistered,
    DeadlineExpired,
    DeadlineWarned,
    ReminderSent,
    SupervisionOrderAnswered,
    SupervisionOrderEscalated,
    SupervisionOrderIssued,
)
from xinfang.storage import UnitOfWork
from xinfang.workdays import WorkCalendar

log = logging.getLogger("xinfang.supervision")


class Context:
    """The configuration the consumer and the views share: limits, thresholds, the working-day calendar."""

    def __init__(self, rules: domain.DeadlineRules | None = None, alert_rules: domain.AlertRules | None = None,
                 calendar: WorkCalendar | None = None) -> None:
        self.rules = rules or domain.DeadlineRules()
        self.alert_rules = alert_rules or domain.AlertRules()
        self.calendar = calendar or WorkCalendar.default()


def on_case_event(uow: UnitOfWork, env: Envelope, ctx: Context) -> None:
    """Any event that starts, moves or stops a clock."""
    p = registry.payload(env)
    state, row, stages = adapters.load_clocks(uow, env.case_id)
    extra: dict = {}
    at = env.occurred_at
    registered = isinstance(p, CaseRegistered)
    if registered:
        extra["division_code"] = p.division_code
        at = p.received_at
    if getattr(p, "imported", False) and not (row and row["imported_at"]):
        extra["imported_at"] = env.recorded_at  # CaseRegistered or routing's CaseAssigned, whichever came first
    unit_id = getattr(p, "unit_id", None)
    if isinstance(p, CaseAssigned) or (unit_id and isinstance(p, CaseAccepted | CaseNotAccepted)):
        extra["unit_id"] = unit_id
    live = set(state.running)  # stages whose checkpoints may be pending
    known = row is not None
    decisions = state.handle(p, at, ctx.rules, ctx.calendar)
    row = adapters.save_clocks(uow, state, row, env.office, **extra)
    if known and ("unit_id" in extra or "division_code" in extra):
        adapters.set_deadlines_scope(uow, env.case_id, row["unit_id"], row["division_code"])
    with adapters.batched(uow, env.case_id):
        for d in decisions:
            if isinstance(d, domain.Started):
                _start(uow, row, d.clock, at, env, ctx, settle=d.clock.stage in live, exists=d.clock.stage in stages)
                stages.add(d.clock.stage)
                live.add(d.clock.stage)
            else:
                _stop(uow, row, d, env, settle=d.stage in live)
        if registered:
            _maybe_alert(uow, env, p, ctx)


def on_case_owned(uow: UnitOfWork, env: Envelope) -> None:
    """包案: a leader took the case (routing's CaseOwnedByLeader {leader, note})."""
    adapters.set_owner_leader(uow, env.case_id, env.office, env.payload.get("leader"))


def on_routing_event(uow: UnitOfWork, env: Envelope, ctx: Context) -> None:
    """Routing's events: 包案 names the case's leader; the others move its clocks."""
    if registry.spec(env.event_type).model is CaseOwnedByLeader:  # its class, without parsing it twice
        on_case_owned(uow, env)
    else:
        on_case_event(uow, env, ctx)


def _start(uow: UnitOfWork, case: dict, clock: domain.Clock, at: datetime, cause: Envelope, ctx: Context, *,
           settle: bool = True, exists: bool = True) -> None:
    if settle:
        _settle(uow, case, clock.stage, at)
    values = dict(office=case["office"], starts_at=clock.starts_at, due_at=clock.due_at, limit_days=clock.limit_days,
                  day_kind=clock.day_kind, basis=clock.basis[:80], unit_id=case["unit_id"],
                  division_code=case["division_code"], status="running", level="normal", met_at=None,
                  on_time=None, warning=clock.warning)
    adapters.put_deadline(uow, case["case_id"], clock.stage, values, exists=exists)
    if clock.warning:
        log.warning("case %s %s clock: %s", case["case_id"], clock.stage, clock.warning)
    adapters.append(uow, case["case_id"], case["office"], clock.event(), causation=cause)
    reached, news = domain.split_at_import(clock.checkpoints(ctx.rules.level_shares), case["imported_at"])
    if reached:
        adapters.update_deadline(uow, case["case_id"], clock.stage, level=reached)
    if news:
        adapters.add_checkpoints(uow, [dict(case_id=case["case_id"], stage=clock.stage, level=level, ref="",
                                            share=share, fire_at=fire_at, due_at=clock.due_at)
                                       for level, share, fire_at in news])


def _stop(uow: UnitOfWork, case: dict, d: domain.Stopped, cause: Envelope, *, settle: bool = True) -> None:
    if settle:
        _settle(uow, case, d.stage, d.at)
    adapters.update_deadline(uow, case["case_id"], d.stage, status="met" if d.met else "stopped", met_at=d.at,
                             on_time=d.on_time)
    met = d.event()
    if met is not None:
        adapters.append(uow, case["case_id"], case["office"], met, causation=cause)


def _settle(uow: UnitOfWork, case: dict, stage: str, at: datetime) -> None:
    """A clock stops or moves at ``at``: the crossings it passed before then are published (once),
    the rest are dropped."""
    dropped = []
    for cp in adapters.pending_crossings(uow, case["case_id"], stage):
        if cp["fire_at"] <= at:
            handlers.fire_crossing(uow, dict(cp), case["office"])
        else:
            dropped.append(cp["id"])
    if dropped:  # one statement: a clock met early drops all its (usually four) crossings
        adapters.drop_checkpoints(uow, dropped)


def _maybe_alert(uow: UnitOfWork, env: Envelope, reg, ctx: Context) -> None:
    alert = ctx.alert_rules.alert(env.office, reg.headcount, reg.division_code, str(uuid.uuid4()))
    if alert is None or adapters.has_alert(uow, env.case_id):  # one per case, however often it is delivered
        return
    now = utcnow()
    adapters.append(uow, env.case_id, env.office, alert, causation=env, occurred_at=now)
    adapters.insert_alert(uow, env.case_id, env.office, alert, raised_at=now)


# ------------------------------------------------------------------ a restore's catch-up


def replay_own(uow: UnitOfWork, env: Envelope) -> bool:
    """One of supervision's own events, published before and just stored again by a restore's
    catch-up (``xinfang.messaging.catchup``), into the read models: a person's order, answer or
    reminder, or a crossing or escalation the ticker fired. False while what it changes is not
    there yet. The consumer's own reactions (DeadlineSet, DeadlineMet, alerts) are made again by
    the consumer, never replayed here."""
    p = registry.payload(env)
    match p:
        case SupervisionOrderIssued():
            case = adapters.supervised_case(uow, env.case_id)
            if case is None:
                return False
            # the issuer's jurisdiction is carried by no event: the office of the case stands in
            # (an order issued from above escalates one level lower than it would have)
            order = domain.SupervisionOrder(p.order_id, unit_id=case.unit_id, issuer_jurisdiction=env.office)
            order.apply(env)
            adapters.insert_order(uow, order)
        case SupervisionOrderAnswered() | SupervisionOrderEscalated():
            order = adapters.load_order(uow, p.order_id)
            if order is None:
                return False
            before = adapters.order_row(order)
            order.apply(env)
            adapters.update_order(uow, order, before)
            adapters.drop_escalation(uow, p.order_id)
        case ReminderSent():
            return adapters.supervised_case(uow, env.case_id) is not None
        case DeadlineWarned() | DeadlineExpired():
            level = p.level if isinstance(p, DeadlineWarned) else "overdue"
            if not adapters.take_crossing(uow, env.case_id, p.stage, level):
                return False
            adapters.update_deadline(uow, env.case_id, p.stage, level=level)
        case _:
            return False
    return True

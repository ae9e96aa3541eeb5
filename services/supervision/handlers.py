"""Supervision's commands: each loads what it decides on, asks the domain (domain.py) for the
events, and appends them on the case's stream (store + outbox) in one UnitOfWork.

People's commands come from api.py: issue and answer a supervision order, send a reminder. The
clock's come from the ticker, and from the consumer when a clock stops past crossings not yet
fired: publish a crossing, escalate an unanswered order. A crossing is fired by deleting its
checkpoint row and appending its event in the same transaction: the delete succeeds once, so the
event is published once, whoever (ticker or consumer) gets there first and however often it
restarts.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from services.supervision import adapters, domain
from services.supervision.adapters import utcnow
from services.supervision.views import order_view
from xinfang.errors import NotFound
from xinfang.security import Principal
from xinfang.storage import Database, UnitOfWork
from xinfang.storage import idempotency as idempotent
from xinfang.workdays import local_date


@dataclass(frozen=True)
class IssueSupervisionOrder:
    """督办: require the case's handling unit to act and answer by ``reply_by`` (China time)."""

    case_id: str
    requirement: str
    reply_by: date


@dataclass(frozen=True)
class AnswerSupervisionOrder:
    order_id: str
    text: str


@dataclass(frozen=True)
class SendReminder:
    """催办: chase the case's handling unit."""

    case_id: str
    text: str


def _visible_case(uow: UnitOfWork, me: Principal, case_id: str) -> domain.SupervisedCase:
    case = adapters.supervised_case(uow, case_id)
    if case is None or not me.can_see_case(office=case.office, unit_id=case.unit_id):
        raise NotFound(f"no case {case_id}", "该信访事项不存在或您无权查看")
    return case


# ------------------------------------------------------------------ people's commands


def issue_order(db: Database, me: Principal, cmd: IssueSupervisionOrder, *,
                idempotency: tuple[str, str] | None = None) -> dict:
    """With ``idempotency`` (the Idempotency-Key and the request's hash), a retry answers the
    order first issued and issues none."""
    domain.check_issuer(me, cmd.reply_by, local_date(utcnow()))

    def act(uow: UnitOfWork) -> dict:
        case = _visible_case(uow, me, cmd.case_id)
        order = domain.SupervisionOrder.draft(str(uuid.uuid4()), case, me)
        event = order.issue(case, cmd.requirement, cmd.reply_by)
        env = adapters.append(uow, case.case_id, case.office, event, actor=me.username, occurred_at=utcnow())
        order.apply(env)
        adapters.insert_order(uow, order)
        return {**order_view(adapters.order_row(order)), "event_id": env.event_id}
    return idempotent.run_once(db, me.username, idempotency, act)


def answer_order(db: Database, me: Principal, cmd: AnswerSupervisionOrder) -> dict:
    with UnitOfWork(db) as uow:
        order = adapters.load_order(uow, cmd.order_id)
        if order is None or not me.can_see_case(office=order.office, unit_id=order.unit_id):
            raise NotFound(f"no supervision order {cmd.order_id}", "该督办单不存在或您无权查看")
        event = order.answer(me, cmd.text)
        before = adapters.order_row(order)
        env = adapters.append(uow, order.case_id, order.office, event, actor=me.username, occurred_at=utcnow())
        adapters.drop_escalation(uow, order.order_id)
        order.apply(env)
        adapters.update_order(uow, order, before)
    return order_view(adapters.order_row(order))


def send_reminder(db: Database, me: Principal, cmd: SendReminder, *,
                  idempotency: tuple[str, str] | None = None) -> dict:
    domain.check_reminder(me)

    def act(uow: UnitOfWork) -> dict:
        case = _visible_case(uow, me, cmd.case_id)
        env = adapters.append(uow, case.case_id, case.office, case.remind(cmd.text), actor=me.username)
        return {"case_id": cmd.case_id, "text": cmd.text, "unit_id": case.unit_id, "sent_at": env.occurred_at,
                "sent_by": me.username, "event_id": env.event_id}
    return idempotent.run_once(db, me.username, idempotency, act)


# ------------------------------------------------------------------ the clock's commands


def fire_crossing(uow: UnitOfWork, cp: dict, office: str) -> bool:
    """Publish one crossing (a ``checkpoints`` row) in the caller's transaction. False when someone
    else fired or dropped it first."""
    if not adapters.take_checkpoint(uow, cp["id"]):
        return False
    if cp["stage"] == "supervision":
        return escalate_order(uow, cp["ref"], cp["fire_at"])
    event = domain.crossing_event(cp["stage"], cp["level"], cp["share"], cp["due_at"])
    adapters.append(uow, cp["case_id"], office, event, occurred_at=min(cp["fire_at"], utcnow()))
    adapters.update_deadline(uow, cp["case_id"], cp["stage"], level=cp["level"])
    return True


def escalate_order(uow: UnitOfWork, order_id: str, due_at: datetime) -> bool:
    """The order's reply date ended at ``due_at``: escalate it, if still unanswered."""
    order = adapters.load_order(uow, order_id)
    event = order.escalate() if order is not None else None
    if order is None or event is None:
        return False
    before = adapters.order_row(order)
    env = adapters.append(uow, order.case_id, order.office, event, occurred_at=min(due_at, utcnow()))
    order.apply(env)
    adapters.update_order(uow, order, before)
    return True

"""Supervision's service layer."""
from __future__ import annotations

import sqlalchemy as sa

from services.supervision import domain
from services.supervision.adapters import deadlines
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.errors import NotFound
from xinfang.security import Principal
from xinfang.storage import Database, UnitOfWork

PRODUCER = "supervision"


def on_case_registered(uow: UnitOfWork, env: Envelope, rules: domain.DeadlineRules) -> None:
    if uow.stream_version(env.case_id) > 0:
        return  # clocks already set for this case
    reg = registry.payload(env)
    clocks = domain.clocks_at_registration(reg.received_at, rules)
    events = [new_envelope(c.event(), case_id=env.case_id, office=env.office, actor="system:supervision",
                           producer=PRODUCER, causation=env) for c in clocks]
    uow.append(env.case_id, 0, events)
    for c in clocks:
        uow.execute(deadlines.insert().values(
            case_id=env.case_id, stage=c.stage, office=env.office, starts_at=c.starts_at, due_at=c.due_at,
            limit_days=c.limit_days, day_kind="calendar", basis=c.basis))


def on_case_assigned(uow: UnitOfWork, env: Envelope) -> None:
    payload = registry.payload(env)
    uow.execute(deadlines.update().where(deadlines.c.case_id == env.case_id).values(unit_id=payload.unit_id))


def get_deadlines(db: Database, user: Principal, case_id: str) -> list[dict]:
    with db.engine.connect() as c:
        rows = c.execute(sa.select(deadlines).where(deadlines.c.case_id == case_id)
                         .order_by(deadlines.c.due_at)).mappings().all()
    if not rows or not user.can_see_case(office=rows[0]["office"], unit_id=rows[0]["unit_id"]):
        raise NotFound(f"no deadlines for case {case_id}", f"信访事项 {case_id} 尚无办理时限或不存在")
    return [{"stage": r["stage"], "starts_at": r["starts_at"], "due_at": r["due_at"],
             "limit_days": r["limit_days"], "day_kind": r["day_kind"], "basis": r["basis"],
             "unit_id": r["unit_id"]} for r in rows]

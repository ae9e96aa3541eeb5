"""Routing's service layer for cases."""
from __future__ import annotations

import sqlalchemy as sa

from services.routing import domain
from services.routing.adapters import assignments, units
from services.routing.organisation import SqlDirectory
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.contracts.events import CaseAssigned
from xinfang.errors import NotFound
from xinfang.security import Principal
from xinfang.storage import Database, UnitOfWork

PRODUCER = "routing"


def on_case_registered(uow: UnitOfWork, env: Envelope) -> None:
    """A new case: assign it by the default rule, once (the stream version guards a second time)."""
    if uow.stream_version(env.case_id) > 0:
        return  # already assigned: a republished registration never assigns twice
    reg = registry.payload(env)
    decision = domain.default_unit(reg.division_code, SqlDirectory(uow.conn))
    event = new_envelope(CaseAssigned(unit_id=decision.unit_id, mode="assign", rule=decision.rule),
                         case_id=env.case_id, office=env.office, actor="system:routing", producer=PRODUCER,
                         causation=env)
    [stored] = uow.append(env.case_id, 0, [event])
    uow.execute(assignments.insert().values(
        case_id=env.case_id, office=env.office, division_code=reg.division_code,
        category_code=reg.category_code, unit_id=decision.unit_id, rule=decision.rule,
        assigned_at=stored.recorded_at))


def _not_found(case_id: str) -> NotFound:
    return NotFound(f"no assignment for case {case_id}", f"信访事项 {case_id} 尚未交办或不存在")


def get_assignment(db: Database, user: Principal, case_id: str) -> dict:
    with UnitOfWork(db) as uow:
        row = uow.execute(sa.select(assignments, units.c.name.label("unit_name"))
                          .join(units, units.c.unit_id == assignments.c.unit_id, isouter=True)
                          .where(assignments.c.case_id == case_id)).mappings().first()
        if row is None or not user.can_see_case(office=row["office"], unit_id=row["unit_id"]):
            raise _not_found(case_id)
        history = uow.load(case_id)
    return {
        "case_id": case_id, "unit_id": row["unit_id"], "unit_name": row["unit_name"],
        "rule": row["rule"], "assigned_at": row["assigned_at"],
        "history": [{"event_type": e.event_type, "actor": e.actor, "occurred_at": e.occurred_at,
                     **registry.payload(e).model_dump(mode="json")} for e in history],
    }

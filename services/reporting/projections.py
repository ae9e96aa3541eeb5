"""Reporting's projections: each event folded into the facts table. Reporting owns no events."""
from __future__ import annotations

import sqlalchemy as sa

from services.reporting.adapters import case_facts
from xinfang.contracts import Envelope, registry
from xinfang.storage import UnitOfWork


def on_case_registered(uow: UnitOfWork, env: Envelope) -> None:
    p = registry.payload(env)
    exists = uow.execute(sa.select(case_facts.c.case_id).where(case_facts.c.case_id == env.case_id)).first()
    values = dict(office=env.office, division_code=p.division_code, category_code=p.category_code,
                  channel=p.channel, purpose=p.purpose, headcount=p.headcount, received_at=p.received_at,
                  registered_at=env.recorded_at)
    if exists:  # a later event of the case arrived first (other topic): fill in the facts
        uow.execute(case_facts.update().where(case_facts.c.case_id == env.case_id).values(**values))
    else:
        uow.execute(case_facts.insert().values(case_id=env.case_id, **values))


def _ensure_row(uow: UnitOfWork, env: Envelope) -> None:
    """Events of one case come from three topics, so their order across topics is not fixed."""
    if uow.execute(sa.select(case_facts.c.case_id).where(case_facts.c.case_id == env.case_id)).first() is None:
        uow.execute(case_facts.insert().values(
            case_id=env.case_id, office=env.office, division_code="", category_code="", channel="",
            purpose="", headcount=0, received_at=env.occurred_at, registered_at=env.occurred_at))


def on_case_assigned(uow: UnitOfWork, env: Envelope) -> None:
    p = registry.payload(env)
    _ensure_row(uow, env)
    uow.execute(case_facts.update().where(case_facts.c.case_id == env.case_id)
                .values(unit_id=p.unit_id, assigned_at=env.occurred_at))


def on_deadline_set(uow: UnitOfWork, env: Envelope) -> None:
    p = registry.payload(env)
    if p.stage != "handling":
        return
    _ensure_row(uow, env)
    uow.execute(case_facts.update().where(case_facts.c.case_id == env.case_id).values(handling_due_at=p.due_at))

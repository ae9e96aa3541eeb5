"""Intake's service layer: one function per use case, given a unit of work."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa

from services.intake import domain
from services.intake.adapters import cases, petitioners
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.errors import NotFound
from xinfang.privacy import PiiVault
from xinfang.storage import Database, UnitOfWork

PRODUCER = "intake"


def register_petition(db: Database, vault: PiiVault, reg: domain.Registration, request_text: str, *,
                      actor: str, occurred_at: datetime | None = None) -> dict:
    case_id = str(uuid.uuid4())
    tracking_code = domain.new_tracking_code()
    payload, office = domain.register(case_id, reg, tracking_code, actor=actor, occurred_at=occurred_at)
    env = new_envelope(payload, case_id=case_id, office=office, actor=actor, producer=PRODUCER,
                       occurred_at=occurred_at or reg.received_at)
    with UnitOfWork(db) as uow:
        [stored] = uow.append(case_id, 0, [env])
        uow.execute(cases.insert().values(
            case_id=case_id, tracking_code=tracking_code, status="registered", office=office,
            division_code=reg.division_code, category_code=reg.category_code, channel=reg.channel,
            purpose=reg.purpose, headcount=reg.headcount, summary=reg.summary, request=request_text,
            received_at=reg.received_at, registered_at=stored.recorded_at, version=stored.stream_version,
        ))
        masked = {x.petitioner_id: x for x in payload.petitioners}
        for p in reg.petitioners:
            uow.execute(petitioners.insert().values(
                petitioner_id=p.petitioner_id, case_id=case_id, name=p.name, id_type=p.id_type,
                id_number_enc=vault.encrypt(p.id_number), id_number_hash=vault.blind_index(p.id_number),
                id_number_masked=masked[p.petitioner_id].id_number_masked,
                phone_enc=vault.encrypt(p.phone), phone_masked=masked[p.petitioner_id].phone_masked,
                address_enc=vault.encrypt(p.address),
            ))
    return {"case_id": case_id, "tracking_code": tracking_code, "office": office,
            "flags": payload.flags, "registered_at": stored.recorded_at}


def get_case(db: Database, case_id: str) -> dict:
    with UnitOfWork(db) as uow:
        row = uow.execute(sa.select(cases).where(cases.c.case_id == case_id)).mappings().first()
        if row is None:
            raise NotFound(f"case {case_id} not found", f"未找到信访事项 {case_id}")
        history = uow.load(case_id)
        people = uow.execute(sa.select(petitioners.c.name, petitioners.c.id_type, petitioners.c.id_number_masked,
                                       petitioners.c.phone_masked).where(petitioners.c.case_id == case_id)).mappings().all()
    case = domain.Case.from_events(case_id, history)
    return {
        **{k: row[k] for k in ("case_id", "tracking_code", "status", "office", "division_code", "category_code",
                               "channel", "purpose", "headcount", "summary", "request", "received_at",
                               "registered_at", "unit_id")},
        "version": case.version,
        "flags": case.registered.flags if case.registered else [],
        "petitioners": [dict(p) for p in people],
        "history": [_history_item(e) for e in history],
    }


def _history_item(e: Envelope) -> dict:
    return {"event_id": e.event_id, "event_type": e.event_type, "version": e.stream_version,
            "actor": e.actor, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at}


# ---------------------------------------------------------------- reactions to other services


def on_case_assigned(uow: UnitOfWork, env: Envelope) -> None:
    """Routing assigned the case: the clerk's case list shows the handling unit."""
    payload = registry.payload(env)
    uow.execute(cases.update().where(cases.c.case_id == env.case_id)
                .values(unit_id=payload.unit_id, status=sa.case((cases.c.status == "registered", "assigned"),
                                                                else_=cases.c.status)))


def now() -> datetime:
    return datetime.now(timezone.utc)

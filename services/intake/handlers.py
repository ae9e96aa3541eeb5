"""Intake's service layer: one function per use case, given the database and the caller."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from services.intake import domain
from services.intake.adapters import cases, divisions, petitioners, units
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.contracts.events import DivisionAdded, UnitAdded, UnitUpdated
from xinfang.errors import NotFound
from xinfang.privacy import PiiVault
from xinfang.security import Principal
from xinfang.storage import Database, UnitOfWork

PRODUCER = "intake"
STATUS_ZH = {"registered": "已登记", "assigned": "已交办", "accepted": "已受理", "replied": "已答复",
             "closed": "已办结"}


def register_petition(db: Database, vault: PiiVault, user: Principal, reg: domain.Registration, *,
                      occurred_at: datetime | None = None) -> dict:
    case_id = str(uuid.uuid4())
    tracking_code = domain.new_tracking_code()
    with UnitOfWork(db) as uow:
        known = lambda code: uow.execute(  # noqa: E731
            sa.select(divisions.c.code).where(divisions.c.code == code)).first() is not None
        payload, office = domain.register(case_id, reg, tracking_code, actor=user, known_division=known)
        env = new_envelope(payload, case_id=case_id, office=office, actor=user.username, producer=PRODUCER,
                           occurred_at=occurred_at or reg.received_at)
        [stored] = uow.append(case_id, 0, [env])
        uow.execute(cases.insert().values(
            case_id=case_id, tracking_code=tracking_code, status="registered", office=office,
            division_code=reg.division_code, category_code=reg.category_code, channel=reg.channel,
            purpose=reg.purpose, headcount=reg.headcount, summary=reg.summary, request=reg.request,
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


def _visible(user: Principal):
    """The SQL condition for the cases this user may see."""
    if user.role == "handler":
        return cases.c.unit_id == user.unit_id
    return cases.c.office.startswith(user.prefix)


def _not_found(case_id: str) -> NotFound:
    return NotFound(f"case {case_id} not found", f"未找到信访事项 {case_id}")


def get_case(db: Database, vault: PiiVault, user: Principal, case_id: str) -> dict:
    with UnitOfWork(db) as uow:
        row = uow.execute(sa.select(cases, units.c.name.label("unit_name"))
                          .join(units, units.c.unit_id == cases.c.unit_id, isouter=True)
                          .where(cases.c.case_id == case_id, _visible(user))).mappings().first()
        if row is None:
            raise _not_found(case_id)
        history = uow.load(case_id)
        people = uow.execute(sa.select(petitioners).where(petitioners.c.case_id == case_id)).mappings().all()
    case = domain.Case.from_events(case_id, history)
    return {
        **{k: row[k] for k in ("case_id", "tracking_code", "status", "office", "division_code", "category_code",
                               "channel", "purpose", "headcount", "summary", "request", "received_at",
                               "registered_at", "unit_id", "unit_name")},
        "version": case.version,
        "flags": case.registered.flags if case.registered else [],
        "petitioners": [_petitioner(p, vault, user) for p in people],
        "history": [_history_item(e) for e in history],
    }


def _petitioner(p, vault: PiiVault, user: Principal) -> dict:
    out = {"name": p["name"], "id_type": p["id_type"], "id_number": p["id_number_masked"],
           "phone": p["phone_masked"], "masked": True}
    if user.sees_personal_data:
        out.update(id_number=vault.decrypt(p["id_number_enc"]), phone=vault.decrypt(p["phone_enc"]),
                   address=vault.decrypt(p["address_enc"]), masked=False)
    return out


def list_cases(db: Database, user: Principal, *, status: str | None, channel: str | None,
               division_code: str | None, limit: int, offset: int) -> dict:
    where = [_visible(user)]
    if status:
        where.append(cases.c.status == status)
    if channel:
        where.append(cases.c.channel == channel)
    if division_code:
        where.append(cases.c.division_code.startswith(division_code.rstrip("0") or division_code))
    cols = [cases.c[k] for k in ("case_id", "status", "office", "division_code", "category_code", "channel",
                                 "purpose", "headcount", "summary", "received_at", "registered_at", "unit_id")]
    with db.engine.connect() as c:
        total = c.execute(sa.select(sa.func.count()).select_from(cases).where(*where)).scalar()
        rows = c.execute(sa.select(*cols).where(*where).order_by(cases.c.registered_at.desc(), cases.c.case_id)
                         .limit(limit).offset(offset)).mappings().all()
    return {"total": int(total or 0), "limit": limit, "offset": offset, "items": [dict(r) for r in rows]}


def track(db: Database, tracking_code: str) -> dict:
    """The public view of a case by its tracking code: no personal data, nothing internal."""
    with db.engine.connect() as c:
        row = c.execute(sa.select(cases.c.status, cases.c.received_at, cases.c.registered_at, cases.c.channel,
                                  units.c.name.label("unit_name"))
                        .join(units, units.c.unit_id == cases.c.unit_id, isouter=True)
                        .where(cases.c.tracking_code == tracking_code.strip().upper())).mappings().first()
    if row is None:
        raise NotFound("no case has this tracking code", "查询码不存在，请核对后重试")
    return {"status": row["status"], "status_zh": STATUS_ZH.get(row["status"], row["status"]),
            "channel": row["channel"], "received_at": row["received_at"], "registered_at": row["registered_at"],
            "handling_unit": row["unit_name"], "reply": None}


def _history_item(e: Envelope) -> dict:
    return {"event_id": e.event_id, "event_type": e.event_type, "version": e.stream_version,
            "actor": e.actor, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at}


def count_divisions(db: Database) -> int:
    with db.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(divisions)).scalar() or 0)


# ---------------------------------------------------------------- reactions to other services


def on_case_assigned(uow: UnitOfWork, env: Envelope) -> None:
    """Routing assigned the case: the clerk's case list shows the handling unit."""
    payload = registry.payload(env)
    uow.execute(cases.update().where(cases.c.case_id == env.case_id)
                .values(unit_id=payload.unit_id, status=sa.case((cases.c.status == "registered", "assigned"),
                                                                else_=cases.c.status)))


def on_organisation_changed(uow: UnitOfWork, env: Envelope) -> None:
    p = registry.payload(env)
    if isinstance(p, DivisionAdded):
        if uow.execute(sa.select(divisions.c.code).where(divisions.c.code == p.code)).first() is None:
            uow.execute(divisions.insert().values(code=p.code, name=p.name, level=p.level))
    elif isinstance(p, UnitAdded):
        if uow.execute(sa.select(units.c.unit_id).where(units.c.unit_id == p.unit_id)).first() is None:
            uow.execute(units.insert().values(unit_id=p.unit_id, name=p.name))
    elif isinstance(p, UnitUpdated) and p.name:
        uow.execute(units.update().where(units.c.unit_id == p.unit_id).values(name=p.name))

"""Intake's service layer: one function per use case, given the database and the caller."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from services.intake import domain
from services.intake.adapters import cases, divisions, petitioners, units
from xinfang.auth import require_role
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.contracts.events import DivisionAdded, UnitAdded, UnitUpdated
from xinfang.errors import DomainError, NotFound
from xinfang.ids import new_id
from xinfang.privacy import PiiVault
from xinfang.security import Principal, division_prefix
from xinfang.storage import ConcurrencyConflict, Database, ReadView, UnitOfWork

PRODUCER = "intake"
RULES = domain.IntakeRules()
HANDLING_ROLES = frozenset({"handler", "admin"})      # accept, extend, reply: the competent unit
CLOSING_ROLES = frozenset({"handler", "dispatcher", "admin"})
REVIEW_ROLES = frozenset({"clerk", "dispatcher", "admin"})  # the office records the petitioner's request
OPEN_STATUSES = frozenset({"registered", "assigned", "accepted", "under_review", "under_re_review"})
STATUS_ZH = {"registered": "已登记", "assigned": "已交办", "accepted": "已受理", "not_accepted": "不予受理",
             "no_longer_accepted": "不再受理", "replied": "已答复", "under_review": "复查中",
             "under_re_review": "复核中", "closed": "已办结"}


def register_petition(db: Database, vault: PiiVault, user: Principal, reg: domain.Registration, *,
                      occurred_at: datetime | None = None) -> dict:
    case_id = new_id()
    with UnitOfWork(db) as uow:
        return _record(uow, vault, user, reg, case_id, occurred_at=occurred_at)


def _record(uow: UnitOfWork, vault: PiiVault, user: Principal, reg: domain.Registration, case_id: str, *,
            occurred_at: datetime | None, steps=(), imported: bool = False) -> dict:
    """Register a case and, for imports, its later steps ``(decide(case, at), at)``: all in the
    caller's transaction, so a case is stored whole or not at all."""
    now = datetime.now(UTC)
    tracking_code = domain.new_tracking_code()
    known = lambda code: uow.execute(  # noqa: E731
        sa.select(divisions.c.code).where(divisions.c.code == code)).first() is not None
    hashes = [vault.blind_index(p.id_number) for p in reg.petitioners]
    prior = [domain.PriorCase(r.case_id, r.category_code, r.registered_at, r.final, r.status in OPEN_STATUSES)
             for r in uow.execute(
        sa.select(cases.c.case_id, cases.c.category_code, cases.c.registered_at, cases.c.final, cases.c.status)
        .join(petitioners, petitioners.c.case_id == cases.c.case_id)
        .where(petitioners.c.id_number_hash.in_(hashes)).distinct())]
    payload, office = domain.register(case_id, reg, tracking_code, actor=user, known_division=known,
                                      prior=prior, rules=RULES, now=now)
    if imported:
        payload = payload.model_copy(update={"imported": True})
    at = occurred_at or reg.received_at
    envs = [new_envelope(payload, case_id=case_id, office=office, actor=user.username, producer=PRODUCER,
                         occurred_at=at).model_copy(update={"stream_version": 1})]
    case = domain.Case.from_events(case_id, envs)
    for decide, step_at in steps:
        case.check_time(step_at, now, RULES)
        env = new_envelope(decide(case, step_at), case_id=case_id, office=office, actor=user.username,
                           producer=PRODUCER, occurred_at=step_at).model_copy(update={"stream_version": case.version + 1})
        case.apply(env)
        envs.append(env)
    stored = uow.append(case_id, 0, envs)
    uow.execute(cases.insert().values(
        case_id=case_id, tracking_code=tracking_code, status=case.status, office=office,
        division_code=reg.division_code, category_code=reg.category_code, channel=reg.channel,
        purpose=reg.purpose, headcount=reg.headcount, summary=reg.summary, request=reg.request,
        received_at=reg.received_at, registered_at=stored[0].recorded_at, version=stored[-1].stream_version,
        flags=" ".join(payload.flags), repeat_of=payload.repeat_of, final=case.final,
        updated_at=stored[-1].occurred_at,
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
    out = {"case_id": case_id, "tracking_code": tracking_code, "office": office, "status": case.status,
           "flags": payload.flags, "repeat_of": payload.repeat_of, "registered_at": stored[0].recorded_at}
    if "law_related" in payload.flags:
        out["legal_channel"] = domain.LEGAL_CHANNEL_ZH
    if "final_matter" in payload.flags:
        out["notice"] = "该事项已经复核终结，依法不再受理（三级终访）"
    return out


# ---------------------------------------------------------------- import of historical cases

IMPORT_NAMESPACE = uuid.UUID("5b0f7c4e-2f4b-4b8e-9a57-7a1f0e1c6d21")


def import_cases(db: Database, vault: PiiVault, user: Principal, batch) -> list[dict]:
    """Historical cases from the old system, with their real dates: ``batch`` holds
    ``(legacy_id, registration, registered_at, steps)``. One transaction for the batch, a
    savepoint per case, so each case is stored whole or refused with its reason.

    The case id derives from ``legacy_id``, so importing the same file again imports nothing twice."""
    require_role(user, "admin", "clerk", "dispatcher")
    results = []
    with UnitOfWork(db) as uow:
        for legacy_id, reg, registered_at, steps in batch:
            case_id = str(uuid.uuid5(IMPORT_NAMESPACE, legacy_id))
            skipped = {"legacy_id": legacy_id, "result": "skipped", "case_id": case_id,
                       "reason": "imported before", "reason_zh": "此前已导入"}
            if uow.stream_version(case_id) > 0:
                results.append(skipped)
                continue
            try:
                with uow.conn.begin_nested():
                    out = _record(uow, vault, user, reg, case_id, occurred_at=registered_at, steps=steps,
                                  imported=True)
            except ConcurrencyConflict:
                results.append(skipped)
            except DomainError as exc:
                results.append({"legacy_id": legacy_id, "result": "refused", "field": exc.field, "reason": exc.message,
                                "reason_zh": exc.message_zh, **({"rule": exc.rule} if exc.rule else {})})
            else:
                results.append({"legacy_id": legacy_id, "result": "imported", "case_id": case_id,
                                "status": out["status"]})
    return results


# ---------------------------------------------------------------- commands on a case

def run_command(db: Database, user: Principal | None, case_id: str, decide, *, roles: frozenset[str] | None,
                occurred_at: datetime | None = None, expected_version: int | None = None,
                by_tracking_code: str | None = None) -> dict:
    """Load the case, check who may act, decide with the domain, append the event.

    ``decide(case, at)`` returns the event payload; ``at`` is when the act happened. A stale
    ``expected_version`` (the If-Match header) is a 409."""
    now = datetime.now(UTC)
    with UnitOfWork(db) as uow:
        if by_tracking_code is not None:
            row = uow.execute(sa.select(cases.c.case_id).where(
                cases.c.tracking_code == by_tracking_code.strip().upper())).first()
            if row is None:
                raise NotFound("no case has this tracking code", "查询码不存在，请核对后重试")
            case_id, actor = row.case_id, "petitioner"
        else:
            if uow.execute(sa.select(cases.c.case_id).where(cases.c.case_id == case_id, _visible(user))).first() is None:
                raise _not_found(case_id)
            if roles is not None:
                require_role(user, *sorted(roles))
            actor = user.username
        case = domain.Case.from_events(case_id, uow.load(case_id))
        if expected_version is not None and expected_version != case.version:
            raise ConcurrencyConflict(case_id, expected_version, case.version)
        at = occurred_at or now
        case.check_time(at, now, RULES)
        payload = decide(case, at)
        env = new_envelope(payload, case_id=case_id, office=case.office, actor=actor, producer=PRODUCER,
                           occurred_at=at)
        [stored] = uow.append(case_id, case.version, [env])
        case.apply(stored)
        uow.execute(cases.update().where(cases.c.case_id == case_id).values(
            status=case.status, version=case.version, final=case.final, updated_at=at))
    return {"case_id": case_id, "status": case.status, "version": case.version,
            "event": {"event_id": stored.event_id, "event_type": stored.event_type,
                      "occurred_at": stored.occurred_at, **stored.payload}}


def _visible(user: Principal):
    """The SQL condition for the cases this user may see."""
    if user.role == "handler":
        return cases.c.unit_id == user.unit_id
    return cases.c.office.startswith(user.prefix)


def _not_found(case_id: str) -> NotFound:
    return NotFound(f"case {case_id} not found", f"未找到信访事项 {case_id}")


def get_case(db: Database, vault: PiiVault, user: Principal, case_id: str) -> dict:
    with ReadView(db) as uow:
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
                               "registered_at", "unit_id", "unit_name", "owner_leader")},
        "co_unit_ids": row["co_unit_ids"].split(),
        "status": row["status"] if case.status == "registered" else case.status,
        "version": case.version,
        "flags": case.flags,
        "repeat_of": case.registered.repeat_of if case.registered else None,
        "final": case.final,
        "procedure": case.procedure,
        "extended": case.extended,
        "review_level": case.review_level,
        "dates": _dates(history),
        "notices": _notices(history),
        "petitioners": [_petitioner(p, vault, user) for p in people],
        "history": [_history_item(e) for e in history],
    }


NOTICE_KIND = {
    "CaseAccepted": ("acceptance_notice", "受理告知书"),
    "CaseNotAccepted": ("non_acceptance_notice", "不予受理 / 不再受理告知书"),
    "HandlingExtended": ("extension_notice", "延长办理期限告知书"),
    "CaseReplied": ("reply", "处理 / 复查 / 复核意见书"),
}


def _notices(history: list[Envelope]) -> list[dict]:
    out = []
    for e in history:
        if e.event_type in NOTICE_KIND:
            kind, name_zh = NOTICE_KIND[e.event_type]
            p = e.payload
            text = p.get("notice") or p.get("text") or p.get("reason")
            if e.event_type == "CaseReplied" and p.get("stage") != "handling":
                kind = f"{p['stage']}_opinion"
            out.append({"kind": kind, "name_zh": name_zh, "date": e.occurred_at, "text": text,
                        "actor": e.actor, **({"outcome": p["outcome"]} if "outcome" in p else {})})
    return out


def _dates(history: list[Envelope]) -> dict:
    keys = {"CaseRegistered": "registered_at", "CaseAccepted": "accepted_at", "CaseNotAccepted": "decided_at",
            "HandlingExtended": "extended_at", "CaseClosed": "closed_at", "CaseEvaluated": "evaluated_at"}
    out: dict = {}
    for e in history:
        if e.event_type == "CaseReplied":
            out[{"handling": "replied_at"}.get(e.payload.get("stage", "handling"),
                                               f"{e.payload.get('stage')}_replied_at")] = e.occurred_at
        elif e.event_type == "ReviewRequested":
            out[f"{e.payload['level']}_requested_at"] = e.occurred_at
        elif e.event_type in keys:
            out.setdefault(keys[e.event_type], e.occurred_at)
    return out


def _petitioner(p, vault: PiiVault, user: Principal) -> dict:
    out = {"name": p["name"], "id_type": p["id_type"], "id_number": p["id_number_masked"],
           "phone": p["phone_masked"], "masked": True}
    if user.sees_personal_data:
        out.update(id_number=vault.decrypt(p["id_number_enc"]), phone=vault.decrypt(p["phone_enc"]),
                   address=vault.decrypt(p["address_enc"]), masked=False)
    return out


LIST_COLUMNS = ("case_id", "status", "office", "division_code", "category_code", "channel", "purpose", "headcount",
                "summary", "received_at", "registered_at", "unit_id", "flags", "repeat_of", "owner_leader")


@dataclass(frozen=True)
class CaseFilter:
    """What a case list may be narrowed by; every field optional."""

    status: str | None = None
    channel: str | None = None
    division_code: str | None = None     # the division or anything below it
    category_code: str | None = None     # the category or anything below it
    purpose: str | None = None
    flag: str | None = None
    unit_id: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None  # exclusive
    q: str | None = None                 # words in the summary

    def conditions(self) -> list:
        where = []
        if self.status:
            where.append(cases.c.status == self.status)
        if self.channel:
            where.append(cases.c.channel == self.channel)
        if self.division_code:
            where.append(cases.c.division_code.startswith(division_prefix(self.division_code)))
        if self.category_code:
            where.append(cases.c.category_code.startswith(self.category_code))
        if self.purpose:
            where.append(cases.c.purpose == self.purpose)
        if self.flag:
            where.append((" " + cases.c.flags + " ").contains(f" {self.flag} ", autoescape=True))
        if self.unit_id:
            where.append(cases.c.unit_id == self.unit_id)
        if self.received_from:
            where.append(cases.c.received_at >= self.received_from)
        if self.received_to:
            where.append(cases.c.received_at < self.received_to)
        if self.q:
            where.append(cases.c.summary.contains(self.q, autoescape=True))
        return where


def list_cases(db: Database, user: Principal, filters: CaseFilter = CaseFilter(), *, limit: int = 50,
               offset: int = 0) -> dict:
    """One page of the cases the user may see, newest registration first.

    The page's case ids are found first, in ``ix_cases_listed`` (list order, with the scope's
    columns), and only then are their rows read: a deep page steps over index entries, not rows."""
    where = [_visible(user), *filters.conditions()]
    order = (cases.c.registered_at.desc(), cases.c.case_id.desc())
    page = sa.select(cases.c.case_id).where(*where).order_by(*order).limit(limit).offset(offset).subquery()
    with db.read() as c:
        total = c.execute(sa.select(sa.func.count()).select_from(cases).where(*where)).scalar()
        rows = c.execute(sa.select(*[cases.c[k] for k in LIST_COLUMNS])
                         .join(page, page.c.case_id == cases.c.case_id).order_by(*order)).mappings().all()
    items = [{**r, "flags": r["flags"].split()} for r in rows]
    return {"total": int(total or 0), "limit": limit, "offset": offset, "items": items}


def track(db: Database, tracking_code: str) -> dict:
    """The public view of a case by its tracking code: no personal data, nothing internal."""
    with ReadView(db) as uow:
        row = uow.execute(sa.select(cases.c.case_id, cases.c.status, cases.c.received_at, cases.c.registered_at,
                                    cases.c.channel, units.c.name.label("unit_name"))
                        .join(units, units.c.unit_id == cases.c.unit_id, isouter=True)
                        .where(cases.c.tracking_code == tracking_code.strip().upper())).mappings().first()
        if row is None:
            raise NotFound("no case has this tracking code", "查询码不存在，请核对后重试")
        history = uow.load(row["case_id"])
    case = domain.Case.from_events(row["case_id"], history)
    replies = [e for e in history if e.event_type == "CaseReplied"]
    reply = replies[-1] if replies else None
    status = row["status"] if case.status == "registered" else case.status
    return {"status": status, "status_zh": STATUS_ZH.get(status, status),
            "channel": row["channel"], "received_at": row["received_at"], "registered_at": row["registered_at"],
            "dates": _dates(history), "handling_unit": row["unit_name"],
            "reply": {"outcome": reply.payload["outcome"], "text": reply.payload["text"],
                      "stage": reply.payload.get("stage", "handling"), "date": reply.occurred_at} if reply else None,
            "can_evaluate": case.first_reply_at is not None and not case.evaluated,
            "evaluated": case.evaluated}


def _history_item(e: Envelope) -> dict:
    """One step of the case: what, who, when; the payload carries no personal data in clear."""
    return {"event_id": e.event_id, "event_type": e.event_type, "version": e.stream_version,
            "actor": e.actor, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "data": e.payload}


def count_divisions(db: Database) -> int:
    with db.read() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(divisions)).scalar() or 0)


# ---------------------------------------------------------------- reactions to other services


def on_case_assigned(uow: UnitOfWork, env: Envelope) -> None:
    """Routing assigned the case (for handling, or for review / re-review at the level above): the
    unit named is the one whose handlers may act; the clerk's list shows it."""
    p = env.payload
    uow.execute(cases.update().where(cases.c.case_id == env.case_id)
                .values(unit_id=p["unit_id"], co_unit_ids=" ".join(p.get("co_unit_ids") or []),
                        status=sa.case((cases.c.status == "registered", "assigned"), else_=cases.c.status)))


def on_case_objected(uow: UnitOfWork, env: Envelope) -> None:
    """The unit objected that the case is not its remit: it goes back to the dispatcher, and the
    objecting unit's handlers may no longer act on it until it is reassigned."""
    uow.execute(cases.update().where(cases.c.case_id == env.case_id, cases.c.unit_id == env.payload["unit_id"])
                .values(unit_id=None))


def on_case_owned(uow: UnitOfWork, env: Envelope) -> None:
    """A leader took the case (包案): every later view shows it."""
    uow.execute(cases.update().where(cases.c.case_id == env.case_id).values(owner_leader=env.payload["leader"]))


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

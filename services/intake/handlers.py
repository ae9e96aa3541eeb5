"""Intake's commands: each loads the case, decides with the domain and appends the new events, with
the case's row, in one unit of work. The queries are in ``views``; routing's events in ``projections``."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from services.intake import adapters, domain
from xinfang import business_time
from xinfang.contracts import Envelope, new_envelope
from xinfang.errors import DomainError, InvalidInput
from xinfang.ids import new_id
from xinfang.privacy import PiiVault
from xinfang.security import Principal, require_role
from xinfang.storage import ConcurrencyConflict, Database, UnitOfWork
from xinfang.storage import idempotency as idempotent

PRODUCER = "intake"
RULES = domain.IntakeRules()
BACKDATING = business_time.BackdatingRules.from_settings()


def register_petition(db: Database, vault: PiiVault, user: Principal, command: domain.RegisterPetition, *,
                      idempotency: tuple[str, str] | None = None) -> dict:
    """Register one petition. With ``idempotency`` (the Idempotency-Key and the request's hash),
    a retry of a registration already made answers its result, marked ``replayed``, and
    registers nothing."""
    return idempotent.run_once(db, user.username, idempotency,
                               lambda uow: _record(uow, vault, user, new_id(), command))


def _record(uow: UnitOfWork, vault: PiiVault, user: Principal, case_id: str, command: domain.RegisterPetition, *,
            steps: tuple[domain.CaseCommand, ...] = (), imported: bool = False) -> dict:
    """Register a case and, for imports, its later steps: all in the caller's transaction, so a
    case is stored whole or not at all."""
    now = datetime.now(UTC)
    reg = command.registration
    tracking_code = domain.new_tracking_code()
    # under every key of the ring: during a key rotation, earlier rows may still hold an old key's hash
    hashes = [h for p in reg.petitioners for h in vault.blind_indexes(p.id_number)]
    prior = [domain.PriorCase(r.case_id, r.category_code, r.registered_at, r.final, r.status in domain.OPEN_STATUSES)
             for r in adapters.cases_of_petitioners(uow, hashes)]
    payload, office = domain.register(case_id, reg, tracking_code, actor=user,
                                      known_division=partial(adapters.division_known, uow),
                                      prior=prior, rules=RULES, now=now)
    if imported:  # history: its real dates, in order, held to no window (xinfang.business_time)
        payload = payload.model_copy(update={"imported": True})
        at = command.occurred_at or reg.received_at
    else:
        when = business_time.decide(command.occurred_at, command.backdate_reason, now=now, entered_by=user.username,
                                    may_correct=business_time.may_correct_records(user.role), rules=BACKDATING,
                                    previous_steps=partial(_not_before_receipt, reg))
        payload, at = when.mark(payload), when.at
    envs = [new_envelope(payload, case_id=case_id, office=office, actor=user.username, producer=PRODUCER,
                         occurred_at=at).model_copy(update={"stream_version": 1})]
    case = domain.Case.from_events(case_id, envs)
    for step in steps:
        step_at = step.occurred_at or now
        case.check_time(step_at, now, RULES)
        env = new_envelope(case.decide(step, step_at, RULES), case_id=case_id, office=office, actor=user.username,
                           producer=PRODUCER, occurred_at=step_at).model_copy(update={"stream_version": case.version + 1})
        case.apply(env)
        envs.append(env)
    stored = _append_numbered(uow, case_id, 0, envs)
    status = domain.case_status(case.status, assigned=False)  # routing assigns only what it saw registered
    adapters.insert_case(
        uow, case_id=case_id, tracking_code=tracking_code, status=status, office=office,
        division_code=reg.division_code, category_code=reg.category_code, channel=reg.channel,
        purpose=reg.purpose, headcount=reg.headcount, summary=reg.summary, request=reg.request,
        received_at=reg.received_at, registered_at=stored[0].recorded_at, version=stored[-1].stream_version,
        flags=" ".join(payload.flags), repeat_of=payload.repeat_of, final=case.final,
        updated_at=stored[-1].occurred_at,
    )
    masked = {x.petitioner_id: x for x in payload.petitioners}
    for p in reg.petitioners:
        adapters.insert_petitioner(
            uow, petitioner_id=p.petitioner_id, case_id=case_id, name=p.name, id_type=p.id_type,
            id_number_enc=vault.encrypt(p.id_number), id_number_hash=vault.blind_index(p.id_number),
            id_number_masked=masked[p.petitioner_id].id_number_masked,
            phone_enc=vault.encrypt(p.phone), phone_masked=masked[p.petitioner_id].phone_masked,
            address_enc=vault.encrypt(p.address), pii_key_id=vault.key_id,
        )
    out = {"case_id": case_id, "tracking_code": tracking_code, "office": office, "status": status,
           "flags": payload.flags, "repeat_of": payload.repeat_of, "registered_at": stored[0].recorded_at}
    out.update(domain.registration_guidance(payload.flags))
    return out


def _not_before_receipt(reg: domain.Registration, at: datetime) -> None:
    """A registration is not before the letter or visit came in; a ``received_at`` the clock skew
    puts ahead of now (a visit of this minute) leaves a live registration now."""
    if at < reg.received_at - BACKDATING.clock_skew:
        raise InvalidInput("occurred_at is before received_at: a petition is registered once it came in",
                           "登记时间不能早于收到 / 来访时间", field="occurred_at")


# ---------------------------------------------------------------- import of historical cases

IMPORT_NAMESPACE = uuid.UUID("5b0f7c4e-2f4b-4b8e-9a57-7a1f0e1c6d21")


def import_cases(db: Database, vault: PiiVault, user: Principal, command: domain.ImportHistoricalCases) -> list[dict]:
    """Historical cases from the old system, with their real dates. One transaction for the batch,
    a savepoint per case, so each case is stored whole or refused with its reason.

    The case id derives from ``legacy_id``, so importing the same file again imports nothing twice."""
    require_role(user, *sorted(command.roles))
    results = []
    with UnitOfWork(db) as uow:
        for legacy in command.cases:
            case_id = str(uuid.uuid5(IMPORT_NAMESPACE, legacy.legacy_id))
            skipped = {"legacy_id": legacy.legacy_id, "result": "skipped", "case_id": case_id,
                       "reason": "imported before", "reason_zh": "此前已导入"}
            if uow.stream_version(case_id) > 0:
                results.append(skipped)
                continue
            try:
                with uow.conn.begin_nested():
                    out = _record(uow, vault, user, case_id, legacy.registration, steps=legacy.steps, imported=True)
            except ConcurrencyConflict:
                results.append(skipped)
            except DomainError as exc:
                results.append({"legacy_id": legacy.legacy_id, "result": "refused", "field": exc.field,
                                "reason": exc.message, "reason_zh": exc.message_zh,
                                **({"rule": exc.rule} if exc.rule else {})})
            else:
                results.append({"legacy_id": legacy.legacy_id, "result": "imported", "case_id": case_id,
                                "status": out["status"]})
    return results


# ---------------------------------------------------------------- commands on a case

def run_command(db: Database, user: Principal, case_id: str, command: domain.CaseCommand, *,
                expected_version: int | None = None) -> dict:
    """A staff member's command on a case they may see (else 404, before any 403: a case out of
    scope does not leak), by one of the command's roles. A stale ``expected_version`` (the
    If-Match header) is a 409."""
    now = datetime.now(UTC)
    with UnitOfWork(db) as uow:
        stored_status = adapters.visible_status(uow, user, case_id)
        require_role(user, *sorted(command.roles))
        out = _decide(uow, case_id, user.username, stored_status, command, now, expected_version,
                      may_correct=business_time.may_correct_records(user.role))
    return out


def evaluate_by_tracking_code(db: Database, tracking_code: str, command: domain.EvaluateCase) -> dict:
    """The petitioner's evaluation, signed out: the tracking code is what lets them act."""
    now = datetime.now(UTC)
    with UnitOfWork(db) as uow:
        row = adapters.tracked_case(uow, tracking_code)
        out = _decide(uow, row["case_id"], "petitioner", row["status"], command, now, None)
    return out


def _decide(uow: UnitOfWork, case_id: str, actor: str, stored_status: str, command: domain.CaseCommand,
            now: datetime, expected_version: int | None, *, may_correct: bool = False) -> dict:
    """A live command on a case at its business time (``xinfang.business_time``): never before the
    case's previous step, here or in routing's handover, nor later than now."""
    case = domain.Case.from_events(case_id, uow.load(case_id))
    if expected_version is not None and expected_version != case.version:
        raise ConcurrencyConflict(case_id, expected_version, case.version)
    handover = adapters.handover(uow, case_id)

    def previous_steps(at: datetime) -> None:
        case.check_time(at, now, RULES)
        domain.check_handover(command, at, handover)

    when = business_time.decide(command.occurred_at, command.backdate_reason, now=now, entered_by=actor,
                                may_correct=may_correct, rules=BACKDATING, previous_steps=previous_steps)
    at = when.at
    env = new_envelope(when.mark(case.decide(command, at, RULES)), case_id=case_id, office=case.office, actor=actor,
                       producer=PRODUCER, occurred_at=at)
    [stored] = _append_numbered(uow, case_id, case.version, [env])
    case.apply(stored)
    status = domain.case_status(case.status, adapters.records_assignment(stored_status))
    adapters.update_case(uow, case_id, status=status, version=case.version, final=case.final, updated_at=at)
    return {"case_id": case_id, "status": status, "version": case.version,
            "event": {"event_id": stored.event_id, "event_type": stored.event_type,
                      "occurred_at": stored.occurred_at, **stored.payload}}


def _append_numbered(uow: UnitOfWork, case_id: str, expected_version: int, envs: list[Envelope]) -> list[Envelope]:
    """Append the case's new events, each written notice among them with its document number
    (文号), allocated in the same transaction: its series locked first, so the numbers follow
    the store's order."""
    notices = [e for e in envs if e.event_type in adapters.NOTICE_EVENTS]
    adapters.lock_notice_series(uow, [adapters.notice_series(e.office, e.occurred_at) for e in notices])
    stored = uow.append(case_id, expected_version, envs)
    for e in stored:
        if e.event_type in adapters.NOTICE_EVENTS:
            office, year = adapters.notice_series(e.office, e.occurred_at)
            adapters.number_notice(uow, event_id=e.event_id, case_id=case_id, office=office, year=year)
    return stored


# ---------------------------------------------------------------- rotation of the PII key

@dataclass
class PiiRotation:
    rewritten: int = 0
    unreadable: list[str] = field(default_factory=list)  # petitioner ids no key of the ring decrypts
    changed_meanwhile: int = 0                           # edited while read: the next run takes them


def rotate_pii_key(db: Database, vault: PiiVault, *, batch: int = 500,
                   progress: Callable[[int], None] | None = None) -> PiiRotation:
    """Rewrite every petitioner row not yet under the current key: decrypt with the ring, encrypt
    and hash under the current key, one transaction per batch. Intake may keep running: what it
    registers meanwhile is written under the current key already, and a row changed between
    the read and the write is left for the next run. A rerun rewrites nothing twice."""
    from cryptography.fernet import InvalidToken

    out, after = PiiRotation(), ""
    while True:
        with UnitOfWork(db) as uow:
            rows = adapters.petitioners_to_rotate(uow, vault.key_id, batch, after)
            for r in rows:
                try:
                    id_number = vault.decrypt(r.id_number_enc)
                    phone, address = vault.decrypt(r.phone_enc), vault.decrypt(r.address_enc)
                except InvalidToken:
                    out.unreadable.append(r.petitioner_id)
                    continue
                assert id_number is not None  # the column is NOT NULL
                if adapters.rewrite_petitioner_pii(
                        uow, r.petitioner_id, r.id_number_enc, id_number_enc=vault.encrypt(id_number),
                        id_number_hash=vault.blind_index(id_number), phone_enc=vault.encrypt(phone),
                        address_enc=vault.encrypt(address), pii_key_id=vault.key_id):
                    out.rewritten += 1
                else:
                    out.changed_meanwhile += 1
        if progress and rows:
            progress(len(rows))
        if len(rows) < batch:
            return out
        after = rows[-1].petitioner_id


def pii_keys_in_use(db: Database, vault: PiiVault) -> dict[str, int]:
    """Petitioner rows per key: ``current``, ``previous`` (a key of the ring), ``unknown``
    (written before key ids were kept, or under a key the ring does not name)."""
    out = {"current": 0, "previous": 0, "unknown": 0}
    with db.read() as conn:
        for key_id, n in adapters.count_petitioners_by_key(conn).items():
            which = ("current" if key_id == vault.key_id else
                     "previous" if key_id in vault.previous_key_ids else "unknown")
            out[which] += n
    return out

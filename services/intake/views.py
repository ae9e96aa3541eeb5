"""Intake's queries: the case list, the case file, the case's whole history and the public
tracking view. They read, never write."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.intake import adapters, domain
from xinfang.contracts import Envelope, decode, registry
from xinfang.contracts.events import (
    CaseAccepted,
    CaseClosed,
    CaseEvaluated,
    CaseNotAccepted,
    CaseRegistered,
    CaseReplied,
    HandlingExtended,
    ReviewRequested,
)
from xinfang.contracts.topics import PRODUCERS
from xinfang.labels import EVENTS, STATUS, label
from xinfang.privacy import PiiVault
from xinfang.security import Principal
from xinfang.storage import Database, ReadView, checkpoints
from xinfang.workdays import WorkCalendar

RULES = domain.IntakeRules()


def _status(case: domain.Case, row) -> str:
    # the history is read after the row: a step committed in between shows in the history, so the
    # case's own status decides, and the row adds what the events cannot tell
    return domain.case_status(case.status, adapters.records_assignment(row["status"]))


# ---------------------------------------------------------------- the case list

LIST_COLUMNS = ("case_id", "tracking_code", "status", "office", "division_code", "category_code", "channel", "purpose",
                "headcount", "summary", "received_at", "registered_at", "unit_id", "flags", "repeat_of", "owner_leader")


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
    q: str | None = None                 # words of the summary, a tracking code, a petitioner's name or ID number
    id_number_hashes: tuple[str, ...] = ()  # q's blind index under every PII key, when q can be an ID number
    case_ids: tuple[str, ...] = ()       # only these cases (the console names the cases of another service's list)


def list_cases(db: Database, user: Principal, filters: CaseFilter = CaseFilter(), *, limit: int = 50,
               offset: int = 0, vault: PiiVault | None = None) -> dict:
    """One page of the cases the user may see, newest registration first. ``q`` finds a case by
    words of its summary, its tracking code (with or without dashes), a petitioner's name, ID
    number (by its keyed hash: ``vault``) or masked ID number; always within the user's scope."""
    if filters.q and vault is not None and _may_be_id_number(filters.q):
        filters = replace(filters, id_number_hashes=tuple(vault.blind_indexes(filters.q)))
    with ReadView(db) as rv:
        total, rows = adapters.case_page(rv, user, filters, LIST_COLUMNS, limit=limit, offset=offset)
    items = [{**r, "flags": r["flags"].split()} for r in rows]
    return {"total": int(total or 0), "limit": limit, "offset": offset, "items": items}


def _may_be_id_number(q: str) -> bool:
    n = q.strip()
    return 6 <= len(n) <= 32 and n[:-1].isdigit() and (n[-1].isdigit() or n[-1] in "Xx")


def count_divisions(db: Database) -> int:
    with ReadView(db) as rv:
        return adapters.count_divisions(rv)


# ---------------------------------------------------------------- the case file

def get_case(db: Database, vault: PiiVault, user: Principal, case_id: str) -> dict:
    """The case file with its history. ID and phone numbers in clear only for those who see personal data."""
    with ReadView(db) as rv:
        row = adapters.case_file_row(rv, user, case_id)
        history = rv.load(case_id)
        people = adapters.petitioners_of(rv, case_id)
        numbers = adapters.notice_numbers_of(rv, case_id)
        office_name = adapters.division_name(rv, row["office"])
    case = domain.Case.from_events(case_id, history)
    return {
        "case_id": row["case_id"],
        "tracking_code": row["tracking_code"],
        "status": _status(case, row),
        **{k: row[k] for k in ("office", "division_code", "category_code", "channel", "purpose", "headcount",
                               "summary", "request", "received_at", "registered_at", "unit_id", "unit_name",
                               "owner_leader")},
        "co_unit_ids": row["co_unit_ids"].split(),
        "version": case.version,
        "flags": case.flags,
        **domain.registration_guidance(case.flags),
        "repeat_of": case.registered.repeat_of if case.registered else None,
        "final": case.final,
        "procedure": case.procedure,
        "extended": case.extended,
        "review_level": case.review_level,
        "dates": _dates(history),
        "office_name": office_name,
        "notices": _notices(history, numbers, office_name),
        "petitioners": [_petitioner(p, vault, user) for p in people],
        "history": [_history_item(e) for e in history],
    }


def history(db: Database, user: Principal, case_id: str) -> dict:
    """The case's whole story: intake's own events and those routing and supervision recorded of
    it, in the order they happened, each with who, which unit, when it happened and when it was
    recorded, its link in its service's hash chain and the signed checkpoint that covers that
    link (None until one is signed). Seen by whoever may see the case file."""
    with ReadView(db) as rv:
        row = adapters.case_file_row(rv, user, case_id)
        own = rv.load(case_id)
        links = adapters.own_links(rv, case_id)
        heard = adapters.heard_of(rv, case_id)
        steps = [(e, "intake", links.get(e.event_id)) for e in own]
        steps += [(decode(body), producer, seq) for producer, seq, body in heard]
        steps.sort(key=lambda s: (s[0].occurred_at, s[0].recorded_at, s[0].stream_version))
        names = adapters.unit_names(rv, [s[0].payload.get("unit_id") for s in steps] + [row["unit_id"]])
        covers = {(service, seq): _covering(rv.conn, service, seq) for _, service, seq in steps}
        newest = {s: checkpoints.latest_own(rv.conn, s) for s in PRODUCERS}
    items, unit = [], None
    for env, service, seq in steps:
        if env.event_type == "CaseAssigned":
            unit = env.payload.get("unit_id")
        acting = env.payload.get("unit_id") or (unit if env.event_type != "CaseRegistered" else None)
        items.append({
            "event_id": env.event_id, "event_type": env.event_type, "label": label(EVENTS, env.event_type),
            "service": service, "actor": env.actor, "unit_id": acting, "unit_name": names.get(acting or ""),
            "occurred_at": env.occurred_at, "recorded_at": env.recorded_at,
            "backdated": env.payload.get("backdated"),
            "position": {"service": service, "seq": seq},
            "checkpoint": covers[(service, seq)],
            "data": env.payload,
        })
    return {"case_id": case_id, "tracking_code": row["tracking_code"], "office": row["office"],
            "events": items,
            "checkpoints": {s: {"size": cp.size, "signed_at": cp.signed_at, "key_id": cp.key_id}
                            for s, cp in newest.items() if cp is not None}}


def _covering(conn, service: str, seq: int | None) -> dict | None:
    cp = checkpoints.covering(conn, service, seq) if seq is not None else None
    return None if cp is None else {"size": cp.size, "head": cp.head, "signed_at": cp.signed_at, "key_id": cp.key_id}


def document_number(year: int, seq: int, office_name: str | None) -> str:
    """文号 as printed under the letterhead, e.g. 〔2026〕示范县信访字第3号."""
    return f"〔{year}〕{office_name or ''}信访字第{seq}号"


def _notices(history: list[Envelope], numbers: dict[str, tuple[int, int]], office_name: str | None) -> list[dict]:
    """The written notices the case's steps carry, each with the document's name and number (文号;
    None only in the instant before intake numbered it), and the days within which the
    petitioner may ask for a review of a reply or opinion (复查, 复核)."""
    out = []
    for e in history:
        extra: dict = {}
        match registry.payload(e):
            case CaseAccepted(notice=text, procedure=procedure):
                kind, name_zh = "acceptance_notice", "受理告知书"
                extra = {"procedure": procedure}
            case CaseNotAccepted(notice=text, decision=decision):
                kind, name_zh = "non_acceptance_notice", "不予受理 / 不再受理告知书"
                extra = {"decision": decision}
            case HandlingExtended(reason=text, days=days, approver=approver):
                kind, name_zh = "extension_notice", "延长办理期限告知书"
                extra = {"days": days, "approver": approver}
            case CaseReplied(text=text, stage=stage, outcome=outcome):
                kind = "reply" if stage == "handling" else f"{stage}_opinion"
                name_zh, extra = "处理 / 复查 / 复核意见书", {"outcome": outcome, "stage": stage,
                                                        "review_window_days": RULES.review_window_days}
            case _:
                continue
        number = numbers.get(e.event_id)
        out.append({"kind": kind, "name_zh": name_zh, "date": e.occurred_at, "text": text or None,
                    "actor": e.actor, "number": document_number(*number, office_name) if number else None,
                    "year": number[0] if number else None, "seq": number[1] if number else None, **extra})
    return out


def _dates(history: list[Envelope]) -> dict:
    """When each step first happened; a reply and a review request, at each stage, the last time."""
    out: dict = {}
    for e in history:
        at = e.occurred_at
        match registry.payload(e):
            case CaseReplied(stage=stage):
                out["replied_at" if stage == "handling" else f"{stage}_replied_at"] = at
            case ReviewRequested(level=level):
                out[f"{level}_requested_at"] = at
            case CaseRegistered():
                out.setdefault("registered_at", at)
            case CaseAccepted():
                out.setdefault("accepted_at", at)
            case CaseNotAccepted():
                out.setdefault("decided_at", at)
            case HandlingExtended():
                out.setdefault("extended_at", at)
            case CaseClosed():
                out.setdefault("closed_at", at)
            case CaseEvaluated():
                out.setdefault("evaluated_at", at)
    return out


def _petitioner(p, vault: PiiVault, user: Principal) -> dict:
    out = {"name": p["name"], "id_type": p["id_type"], "id_number": p["id_number_masked"],
           "phone": p["phone_masked"], "masked": True}
    if user.sees_personal_data:
        out.update(id_number=vault.decrypt(p["id_number_enc"]), phone=vault.decrypt(p["phone_enc"]),
                   address=vault.decrypt(p["address_enc"]), masked=False)
    return out


def _history_item(e: Envelope) -> dict:
    """One step of the case: what, who, when; the payload carries no personal data in clear.
    ``backdated``: the mark of a step recorded late (补录: why, by whom, when entered), else None."""
    return {"event_id": e.event_id, "event_type": e.event_type, "version": e.stream_version,
            "actor": e.actor, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at,
            "backdated": e.payload.get("backdated"), "data": e.payload}


# ---------------------------------------------------------------- public tracking

def track(db: Database, tracking_code: str) -> dict:
    """The public view of a case by its tracking code: no personal data, nothing internal."""
    with ReadView(db) as rv:
        row = adapters.tracked_case(rv, tracking_code)
        history = rv.load(row["case_id"])
    case = domain.Case.from_events(row["case_id"], history)
    replies = [(e, p) for e in history if isinstance(p := registry.payload(e), CaseReplied)]
    evaluation = next((p for e in history if isinstance(p := registry.payload(e), CaseEvaluated)), None)
    status = _status(case, row)
    return {"status": status, "status_zh": label(STATUS, status),
            "channel": row["channel"], "received_at": row["received_at"], "registered_at": row["registered_at"],
            "dates": _dates(history), "handling_unit": row["unit_name"],
            # the next step and by when, from the limits supervision's clocks run on
            "expected": [{"step": step, "due_at": due}
                         for step, due in case.expected_dates(datetime.now(UTC), WorkCalendar.shared(), RULES)],
            "reply": _reply(*replies[-1]) if replies else None,
            "can_evaluate": case.first_reply_at is not None and not case.evaluated,
            "evaluated": case.evaluated,
            # the petitioner's own rating and comment, shown back to them (no personal data)
            "rating": evaluation.rating if evaluation else None,
            "comment": evaluation.comment if evaluation else None}


def _reply(e: Envelope, reply: CaseReplied) -> dict:
    return {"outcome": reply.outcome, "text": reply.text, "stage": reply.stage, "date": e.occurred_at}

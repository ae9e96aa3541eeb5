"""Intake's HTTP surface: parse the request into a command or a query, call the handler or the
view. Errors become HTTP statuses in ``xinfang.web``."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from services.intake import domain, handlers, views
from xinfang.auth import RateLimiter, client_key
from xinfang.bounds import MAX_OFFSET, Instant, in_range
from xinfang.business_time import MAX_REASON_CHARS
from xinfang.errors import InvalidInput
from xinfang.reference import CATEGORIES
from xinfang.security import Principal
from xinfang.web import answered_once, idempotency_key_header, idempotency_of

MAX_CASE_IDS = 100  # one page of another service's list, named at once
BACKDATE_REASON_DOC = ("why the act is recorded later than it happened (补录理由); required when occurred_at "
                       "lies before now (docs/rates.md, \"Business time\")")


class PetitionerIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_type: Literal["resident_id", "passport", "other"] = "resident_id"
    id_number: str = Field(min_length=1, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    address: str = Field(default="", max_length=200)


class RegisterPetitionRequest(BaseModel):
    channel: Literal["letter", "visit", "online", "phone"]
    received_at: Instant = Field(description="when the letter arrived or the visit happened")
    petitioners: list[PetitionerIn] = Field(min_length=1)
    headcount: int = Field(default=1, ge=1, le=100000)
    purpose: Literal["suggestion", "accusation", "appeal"]
    category_code: str
    division_code: str = Field(pattern=r"^\d{12}$")
    summary: str = Field(min_length=1, max_length=2000)
    request: str = Field(min_length=1, max_length=4000)
    occurred_at: Instant | None = Field(default=None, description="when the registration happened, if not now: "
                                              "a late record (补录), with backdate_reason")
    backdate_reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS, description=BACKDATE_REASON_DOC)


class RegisteredResponse(BaseModel):
    case_id: str
    tracking_code: str
    office: str
    flags: list[str] = Field(description="first_petition | repeat | final_matter | skip_level | collective | law_related")
    repeat_of: str | None = Field(default=None, description="the earlier case of the same person and matter")
    legal_channel: str | None = Field(default=None, description="for law-related petitions: the proper legal channel")
    notice: str | None = None
    registered_at: datetime


class Command(BaseModel):
    occurred_at: Instant | None = Field(default=None, description="when the act happened, if not now: a late "
                                              "record (补录), with backdate_reason, at most XINFANG_BACKDATE_DAYS "
                                              "back (further by an administrator); never before the previous "
                                              "step, not in the future")
    backdate_reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS, description=BACKDATE_REASON_DOC)


class AcceptanceRequest(Command):
    decision: Literal["accepted", "not_accepted", "no_longer_accepted"]
    procedure: Literal["normal", "simplified"] = "normal"
    notice: str = Field(min_length=1, max_length=4000, description="受理告知书 / 不予受理告知书 text")


class ExtensionRequest(Command):
    days: int = Field(ge=1, le=365)
    reason: str = Field(min_length=1, max_length=2000)
    approver: str | None = Field(default=None, max_length=100, description="the head who approved; default: caller")


class ReplyRequest(Command):
    outcome: Literal["supported", "explained", "not_supported"]
    text: str = Field(min_length=1, max_length=20000)


class ClosureRequest(Command):
    pass


class ReviewRequest(Command):
    level: Literal["review", "re_review"]
    reason: str = Field(min_length=1, max_length=4000)


class EvaluationRequest(Command):
    rating: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    comment: str | None = Field(default=None, max_length=domain.IntakeRules.evaluation_comment_max_chars,
                                description="the petitioner's short comment (optional); kept with the "
                                            "evaluation, never logged")


class HistoricalAcceptance(BaseModel):
    decision: Literal["accepted", "not_accepted", "no_longer_accepted"]
    procedure: Literal["normal", "simplified"] = "normal"
    notice: str = Field(min_length=1, max_length=4000)
    occurred_at: Instant


class HistoricalExtension(BaseModel):
    days: int = Field(ge=1, le=365)
    reason: str = Field(min_length=1, max_length=2000)
    approver: str = Field(min_length=1, max_length=100)
    occurred_at: Instant


class HistoricalReply(BaseModel):
    outcome: Literal["supported", "explained", "not_supported"]
    text: str = Field(min_length=1, max_length=20000)
    occurred_at: Instant


class HistoricalEvaluation(BaseModel):
    rating: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    occurred_at: Instant


class HistoricalStep(BaseModel):
    occurred_at: Instant


class HistoricalCase(BaseModel):
    """A case from the old system with the dates it really happened on."""

    legacy_id: str = Field(min_length=1, max_length=64, description="the old system's number: imports are idempotent by it")
    registration: RegisterPetitionRequest
    acceptance: HistoricalAcceptance | None = None
    extension: HistoricalExtension | None = None
    reply: HistoricalReply | None = None
    evaluation: HistoricalEvaluation | None = None
    closure: HistoricalStep | None = None


class ImportRequest(BaseModel):
    cases: list[HistoricalCase] = Field(min_length=1, max_length=500)


def _register(body: RegisterPetitionRequest) -> domain.RegisterPetition:
    return domain.RegisterPetition(domain.Registration(
        channel=body.channel, received_at=body.received_at,
        petitioners=[domain.PetitionerDetails(str(uuid.uuid4()), p.name, p.id_type, p.id_number, p.phone, p.address)
                     for p in body.petitioners],
        headcount=body.headcount, purpose=body.purpose, category_code=body.category_code,
        division_code=body.division_code, summary=body.summary, request=body.request,
    ), occurred_at=body.occurred_at, backdate_reason=body.backdate_reason)


def _legacy(hc: HistoricalCase) -> domain.LegacyCase:
    """The old system's case as commands, in the order its steps happen."""
    steps: list[domain.CaseCommand] = []
    if a := hc.acceptance:
        steps.append(domain.DecideAcceptance(a.decision, a.procedure, a.notice, unit_id=None,
                                             occurred_at=a.occurred_at))
    if e := hc.extension:
        steps.append(domain.ExtendHandling(e.days, e.reason, e.approver, occurred_at=e.occurred_at))
    if r := hc.reply:
        steps.append(domain.ReplyToCase(r.outcome, r.text, occurred_at=r.occurred_at))
    if v := hc.evaluation:
        steps.append(domain.EvaluateCase(v.rating, occurred_at=v.occurred_at))
    if c := hc.closure:
        steps.append(domain.CloseCase(occurred_at=c.occurred_at))
    return domain.LegacyCase(hc.legacy_id, _register(hc.registration), tuple(steps))


def _aware(at: datetime | None, field: str) -> datetime | None:
    """A filter instant must say its offset: '2026-11-01' alone would be read in the server's zone."""
    if at is not None and at.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone offset, e.g. 2026-11-01T00:00:00+08:00",
                           f"{field} 须带时区，例如 2026-11-01T00:00:00+08:00", field=field)
    in_range(at, field)
    return at


def _version(if_match: str | None) -> int | None:
    """If-Match: the case version the caller saw (from GET /cases/{id}); stale means 409."""
    if if_match is None:
        return None
    try:
        return int(if_match.strip().strip('W/').strip('"'))
    except ValueError:
        raise InvalidInput("If-Match must be the case version, e.g. \"3\"", "If-Match 应为事项版本号",
                           field="If-Match") from None


def router(runtime, vault) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    user = Depends(runtime.current_user)
    tracking_limit = RateLimiter(limit=30, window_s=60)

    def run(me: Principal, case_id: str, command: domain.CaseCommand, if_match: str | None):
        return asyncio.to_thread(handlers.run_command, runtime.db, me, case_id, command,
                                 expected_version=_version(if_match))

    @r.post("/petitions", status_code=201, response_model=RegisteredResponse, tags=["registration"])
    async def register_petition(body: RegisterPetitionRequest, request: Request, response: Response,
                                me: Principal = user, idempotency_key: str | None = idempotency_key_header()):
        """Register a petition (登记). Clerks, dispatchers and administrators, within their jurisdiction."""
        once = idempotency_of(idempotency_key, request, body)
        out = await asyncio.to_thread(handlers.register_petition, runtime.db, vault, me, _register(body),
                                      idempotency=once)
        return answered_once(out, response)

    @r.post("/imports", tags=["registration"])
    async def import_cases(body: ImportRequest, me: Principal = user):
        """Historical cases from the old system, each stored whole or refused with its reason;
        a case imported before (same legacy_id) is skipped. Used by `xinfang import FILE`."""
        command = domain.ImportHistoricalCases(tuple(_legacy(hc) for hc in body.cases))
        results = await asyncio.to_thread(handlers.import_cases, runtime.db, vault, me, command)
        counts = {k: sum(r["result"] == k for r in results) for k in ("imported", "skipped", "refused")}
        return {**counts, "results": results}

    @r.get("/cases", tags=["case file"])
    async def list_cases(me: Principal = user,
                         status: str | None = Query(default=None, max_length=32),
                         channel: Literal["letter", "visit", "online", "phone"] | None = None,
                         division_code: str | None = Query(default=None, pattern=r"^\d{12}$"),
                         category_code: str | None = Query(default=None, pattern=r"^\d{2,6}$"),
                         purpose: Literal["suggestion", "accusation", "appeal"] | None = None,
                         flag: Literal["first_petition", "repeat", "final_matter", "skip_level", "collective",
                                       "law_related", "pending_elsewhere"] | None = None,
                         unit_id: str | None = Query(default=None, max_length=64),
                         received_from: datetime | None = Query(default=None, description="received at or after"),
                         received_to: datetime | None = Query(default=None, description="received before"),
                         q: str | None = Query(default=None, max_length=100,
                                               description="words of the summary, a tracking code (dashes "
                                                           "optional), a petitioner's name, ID number or "
                                                           "masked ID number"),
                         case_id: list[str] = Query(default=[], max_length=MAX_CASE_IDS,
                                                    description="only these cases (repeat the parameter)"),
                         limit: int = Query(default=50, ge=1, le=500),
                         offset: int = Query(default=0, ge=0, le=MAX_OFFSET)):
        """The cases the caller may see, newest first, with filters and paging."""
        f = views.CaseFilter(status=status, channel=channel, division_code=division_code,
                             category_code=category_code, purpose=purpose, flag=flag, unit_id=unit_id,
                             received_from=_aware(received_from, "received_from"),
                             received_to=_aware(received_to, "received_to"), q=q,
                             case_ids=tuple(dict.fromkeys(case_id)))
        return await asyncio.to_thread(views.list_cases, runtime.db, me, f, limit=limit, offset=offset, vault=vault)

    @r.get("/cases/{case_id}", tags=["case file"])
    async def get_case(case_id: str, me: Principal = user):
        """The case file with its history. ID and phone numbers in clear only for clerks and handlers."""
        return await asyncio.to_thread(views.get_case, runtime.db, vault, me, case_id)

    @r.get("/cases/{case_id}/history", tags=["case file"])
    async def case_history(case_id: str, me: Principal = user):
        """The case's whole history across the services, in time order: each act with its actor,
        unit, business and recorded time, its link in its service's hash chain and the signed
        checkpoint covering it (全流程记录)."""
        return await asyncio.to_thread(views.history, runtime.db, me, case_id)

    @r.post("/cases/{case_id}/acceptance", tags=["case life"])
    async def accept(case_id: str, body: AcceptanceRequest, me: Principal = user,
                     if_match: str | None = Header(default=None)):
        """The competent unit decides: accepted (normal or simplified), not accepted, no longer accepted."""
        return await run(me, case_id, domain.DecideAcceptance(body.decision, body.procedure, body.notice, me.unit_id,
                                                              occurred_at=body.occurred_at,
                                                              backdate_reason=body.backdate_reason), if_match)

    @r.post("/cases/{case_id}/extension", tags=["case life"])
    async def extend(case_id: str, body: ExtensionRequest, me: Principal = user,
                     if_match: str | None = Header(default=None)):
        """Extend the handling period once, by at most 30 days, with reason and approver."""
        return await run(me, case_id, domain.ExtendHandling(body.days, body.reason, body.approver or me.username,
                                                            occurred_at=body.occurred_at,
                                                            backdate_reason=body.backdate_reason), if_match)

    @r.post("/cases/{case_id}/reply", tags=["case life"])
    async def reply(case_id: str, body: ReplyRequest, me: Principal = user,
                    if_match: str | None = Header(default=None)):
        """The written reply (答复意见书), or the review / re-review opinion while one is pending."""
        return await run(me, case_id, domain.ReplyToCase(body.outcome, body.text, occurred_at=body.occurred_at,
                                                         backdate_reason=body.backdate_reason), if_match)

    @r.post("/cases/{case_id}/closure", tags=["case life"])
    async def close(case_id: str, body: ClosureRequest | None = None, me: Principal = user,
                    if_match: str | None = Header(default=None)):
        """Close the case out (办结) after its reply or a not-accepted decision."""
        body = body or ClosureRequest()
        return await run(me, case_id, domain.CloseCase(occurred_at=body.occurred_at,
                                                       backdate_reason=body.backdate_reason), if_match)

    @r.post("/cases/{case_id}/review-request", tags=["case life"])
    async def review_request(case_id: str, body: ReviewRequest, me: Principal = user,
                             if_match: str | None = Header(default=None)):
        """Record the petitioner's request for review (复查) or re-review (复核), within 30 days of the reply."""
        return await run(me, case_id, domain.RequestReview(body.level, body.reason, occurred_at=body.occurred_at,
                                                           backdate_reason=body.backdate_reason), if_match)

    @r.post("/track/{tracking_code}/evaluation", tags=["public tracking"])
    async def evaluate(tracking_code: str, body: EvaluationRequest, request: Request):
        """Public: the petitioner rates the handling once, after the reply (满意度评价). No sign-in."""
        tracking_limit.hit(client_key(request))
        result = await asyncio.to_thread(handlers.evaluate_by_tracking_code, runtime.db, tracking_code,
                                         domain.EvaluateCase(body.rating, occurred_at=body.occurred_at,
                                                             backdate_reason=body.backdate_reason,
                                                             comment=body.comment))
        return {"status": result["status"], "rating": body.rating, "comment": result["event"]["comment"],
                "evaluated": True}

    @r.get("/categories", tags=["reference"])
    async def categories(me: Principal = user):
        return CATEGORIES

    @r.get("/track/{tracking_code}", tags=["public tracking"])
    async def track(tracking_code: str, request: Request):
        """Public: the status of a case by its tracking code (查询码). No sign-in; rate-limited."""
        tracking_limit.hit(client_key(request))
        return await asyncio.to_thread(views.track, runtime.db, tracking_code)

    return r

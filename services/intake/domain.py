"""Intake's domain rules: the case (信访事项) as an aggregate that changes only by its events.

No I/O here. What a caller asks for is a command, a frozen dataclass below; ``Case.decide`` (or
``register``) checks the rules and returns the new event, never changing the state itself;
``apply`` folds an event into the state. Who may ask for each command is declared here too, and
so is the one rule for the status a case answers with (``case_status``). Every rule with a number
in it takes the number from ``IntakeRules``.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal, assert_never

from pydantic import BaseModel

from xinfang.aggregate import Aggregate
from xinfang.contracts import Envelope
from xinfang.contracts.events import (
    CaseAccepted,
    CaseClosed,
    CaseEvaluated,
    CaseNotAccepted,
    CaseRegistered,
    CaseReplied,
    HandlingExtended,
    HandlingStage,
    Outcome,
    PetitionerRef,
    Procedure,
    Rating,
    Refusal,
    ReviewLevel,
    ReviewRequested,
)
from xinfang.deadlines import DeadlineLimits
from xinfang.errors import Conflict, Forbidden, InvalidInput
from xinfang.privacy import mask_id, mask_phone, resident_id_valid
from xinfang.reference import category_leaf
from xinfang.security import Principal, division_level
from xinfang.workdays import WorkCalendar

# who may ask for each command (the commands below name theirs)
REGISTERING_ROLES = frozenset({"clerk", "dispatcher", "admin"})  # the office, also for the old system's cases
HANDLING_ROLES = frozenset({"handler", "admin"})      # accept, extend, reply: the competent unit
CLOSING_ROLES = frozenset({"handler", "dispatcher", "admin"})
REVIEW_ROLES = frozenset({"clerk", "dispatcher", "admin"})  # the office records the petitioner's request
TRACKING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


@dataclass(frozen=True)
class IntakeRules:
    """Every number a rule uses, with the legal value as default (docs/configuration.md)."""

    max_representatives: int = 5          # collective visits elect at most 5 representatives
    collective_headcount: int = 5         # 集体访: 5 or more people
    review_window_days: int = 30          # 第三十四、三十五条: review / re-review within 30 days of the reply
    evaluation_window_days: int = 30      # how long after the reply the petitioner may evaluate
    evaluation_comment_max_chars: int = 300  # the petitioner's short comment with the rating
    law_related_categories: frozenset = frozenset({"0105"})   # 政法 / 涉法涉诉
    clock_skew: timedelta = timedelta(minutes=5)  # tolerance for "not in the future"
    # the legal limits of the steps, the ones supervision's clocks run on (XINFANG_LIMIT_*): the
    # dates the public page tells the petitioner to expect
    limits: DeadlineLimits = field(default_factory=DeadlineLimits)

    @property
    def extension_max_days(self) -> int:
        """信访条例 (2005) 第三十三条: at most 30 days more, once (the limit supervision moves its clock by)."""
        return self.limits.extension_max_days


def tracking_code_of(text: str) -> str | None:
    """``text`` as a tracking code (XXXX-XXXX-XXXX), typed with or without dashes or spaces and in
    either case; None if it cannot be one."""
    body = "".join(ch for ch in text.upper() if ch not in "- ")
    if len(body) != 12 or any(ch not in TRACKING_ALPHABET for ch in body):
        return None
    return _dashed(body)


def new_tracking_code() -> str:
    """12 random characters from a 31-letter alphabet (~59 bits): not guessable."""
    return _dashed("".join(secrets.choice(TRACKING_ALPHABET) for _ in range(12)))


def _dashed(body: str) -> str:
    return f"{body[:4]}-{body[4:8]}-{body[8:]}"


@dataclass(frozen=True)
class PetitionerDetails:
    """A petitioner as the clerk typed them; only intake's store ever holds these in clear
    (encrypted)."""

    petitioner_id: str
    name: str
    id_type: str
    id_number: str
    phone: str | None
    address: str


@dataclass(frozen=True)
class Registration:
    channel: str
    received_at: datetime
    petitioners: Sequence[PetitionerDetails]
    headcount: int
    purpose: str
    category_code: str
    division_code: str
    summary: str
    request: str


def jurisdiction_of(division_code: str) -> str:
    """The office whose jurisdiction a case is in: the township where the problem arose, else the
    division itself (county level and above)."""
    if division_level(division_code) in ("township", "village"):
        return division_code[:9] + "000"
    return division_code


def validate_registration(reg: Registration, now: datetime, known_division: Callable[[str], bool],
                          rules: IntakeRules = IntakeRules()) -> None:
    if reg.received_at > now + rules.clock_skew:
        raise InvalidInput("received_at lies in the future", "收到/来访时间不能晚于当前时间", field="received_at")
    if category_leaf(reg.category_code) is None:
        raise InvalidInput(f"category_code {reg.category_code!r} is not a leaf of the category list",
                           f"问题分类 {reg.category_code!r} 不是分类表中的末级分类", field="category_code")
    if not known_division(reg.division_code):
        raise InvalidInput(f"division_code {reg.division_code!r} is not a known division",
                           f"问题发生地 {reg.division_code!r} 不是已知的行政区划代码", field="division_code")
    if not reg.petitioners:
        raise InvalidInput("at least one petitioner is required", "至少需要一名信访人", field="petitioners")
    for i, p in enumerate(reg.petitioners):
        if p.id_type == "resident_id" and not resident_id_valid(p.id_number):
            raise InvalidInput("not a valid resident ID number (GB 11643 check digit)",
                               "身份证号码无效（校验码不符）", field=f"petitioners.{i}.id_number")
    if reg.channel == "visit" and reg.headcount >= rules.collective_headcount \
            and len(reg.petitioners) > rules.max_representatives:
        raise InvalidInput(f"a collective visit names at most {rules.max_representatives} representatives",
                           f"集体访推选代表不超过 {rules.max_representatives} 人", field="petitioners")
    if reg.headcount < len(reg.petitioners):
        raise InvalidInput("headcount is smaller than the number of petitioners named",
                           "涉及人数少于所列信访人数", field="headcount")


@dataclass(frozen=True)
class PriorCase:
    """An earlier case of one of the same petitioners (found by the keyed hash of the ID number)."""

    case_id: str
    category_code: str
    registered_at: datetime
    final: bool
    open: bool = False    # still within its handling (not yet replied or decided)


def flags_for(reg: Registration, actor: Principal, prior: list[PriorCase],
              rules: IntakeRules = IntakeRules()) -> tuple[list[str], str | None]:
    """The flags of a new registration and the earlier case it repeats, if any.

    Repeat (重复访): the same person with the same matter, taken as the same category. Skip-level
    (越级访): registered by an office above the county, the level competent for a problem that
    arose in the county. Law-related (涉法涉诉): its category. Pending elsewhere: the same matter
    is still being handled (信访条例 2005 第十六条: not accepted again meanwhile)."""
    same = sorted((p for p in prior if p.category_code == reg.category_code), key=lambda p: p.registered_at)
    flags = ["repeat"] if same else ["first_petition"]
    if same and any(p.final for p in same):
        flags.append("final_matter")
    elif any(p.open for p in same):
        flags.append("pending_elsewhere")
    if division_level(actor.jurisdiction) in ("province", "city") and division_level(reg.division_code) in (
            "county", "township", "village"):
        flags.append("skip_level")
    if reg.headcount >= rules.collective_headcount:
        flags.append("collective")
    if reg.category_code in rules.law_related_categories:
        flags.append("law_related")
    return flags, (same[-1].case_id if same else None)


class RuleViolation(Conflict):
    """A command the case's state forbids (HTTP 409, naming the rule)."""


LEGAL_CHANNEL_ZH = "本事项属涉法涉诉，请依法通过诉讼、仲裁、行政复议等法定途径解决（诉访分离）"
FINAL_MATTER_NOTICE_ZH = "该事项已经复核终结，依法不再受理（三级终访）"


def registration_guidance(flags: list[str]) -> dict[str, str]:
    """What the clerk is told at registration, from the case's flags: the legal channel of a
    law-related petition, the notice of a matter already final."""
    out = {}
    if "law_related" in flags:
        out["legal_channel"] = LEGAL_CHANNEL_ZH
    if "final_matter" in flags:
        out["notice"] = FINAL_MATTER_NOTICE_ZH
    return out


STAGE_OF_LEVEL: dict[str | None, HandlingStage] = {None: "handling", "review": "review", "re_review": "re_review"}


# ---------------------------------------------------------------- commands

@dataclass(frozen=True)
class RegisterPetition:
    """Register a petition (登记); ``register`` decides it. ``occurred_at``: when the registration
    happened: a live one now, or earlier as a late record (``xinfang.business_time``), never
    before the letter or visit was received; an imported one by default when it was received."""

    registration: Registration
    occurred_at: datetime | None = None
    backdate_reason: str | None = None  # why an earlier occurred_at (a late record, 补录)


@dataclass(frozen=True)
class DecideAcceptance:
    """The competent unit's acceptance decision: accepted (normal or simplified procedure), not
    accepted, or no longer accepted, with its written notice."""

    roles: ClassVar[frozenset[str]] = HANDLING_ROLES
    decision: Literal["accepted"] | Refusal
    procedure: Procedure
    notice: str
    unit_id: str | None          # the deciding unit; None for a case from the old system
    occurred_at: datetime | None = None
    backdate_reason: str | None = None  # why an earlier occurred_at (a late record, 补录)


@dataclass(frozen=True)
class Handover:
    """Routing's side of a case, as intake heard it: the unit holding it, when it got it and when
    it signed for it (签收). ``assigned_at`` None with a unit: assigned before intake kept the time."""

    unit_id: str | None
    assigned_at: datetime | None
    signed_at: datetime | None


def check_handover(command: CaseCommand, at: datetime, handover: Handover) -> None:
    """The acceptance decision is the unit's once it holds the case: after routing assigned it and
    the unit signed for it, and never dated before the assignment or the signing (交办 → 签收 →
    受理). The unit's later acts (extension, reply) are never dated before the unit got the case
    and signed for it either, where intake heard when (a reassignment, a review's assignment)."""
    if isinstance(command, ExtendHandling | ReplyToCase):
        _not_before_handover(at, handover)
        return
    if not isinstance(command, DecideAcceptance):
        return
    if handover.unit_id is None:
        raise RuleViolation("the case is not assigned to a unit yet", "该事项尚未交办到承办单位，不能受理",
                            rule="assigned_before_acceptance")
    if handover.assigned_at is None:
        return  # assigned before the signing was kept here: not known, not enforced
    if handover.signed_at is None:
        raise RuleViolation("the unit has not signed for the case: sign for it first (a signing just made "
                            "arrives within a second)", "承办单位尚未签收，请先签收再受理（刚签收的请稍候片刻再试）",
                            rule="sign_before_acceptance")
    _not_before_handover(at, handover)


def _not_before_handover(at: datetime, handover: Handover) -> None:
    if handover.assigned_at is not None and at < handover.assigned_at:
        raise InvalidInput(f"occurred_at is before routing assigned the case to the unit "
                           f"({handover.assigned_at.isoformat()})", "办理时间不能早于交办时间", field="occurred_at")
    if handover.signed_at is not None and at < handover.signed_at:
        raise InvalidInput(f"occurred_at is before the unit signed for the case ({handover.signed_at.isoformat()})",
                           "办理时间不能早于签收时间", field="occurred_at")


@dataclass(frozen=True)
class ExtendHandling:
    """Extend the handling period, once, with the reason and the head who approved it."""

    roles: ClassVar[frozenset[str]] = HANDLING_ROLES
    days: int
    reason: str
    approver: str
    occurred_at: datetime | None = None
    backdate_reason: str | None = None  # why an earlier occurred_at (a late record, 补录)


@dataclass(frozen=True)
class ReplyToCase:
    """The written reply, or the review / re-review opinion while one is pending."""

    roles: ClassVar[frozenset[str]] = HANDLING_ROLES
    outcome: Outcome
    text: str
    occurred_at: datetime | None = None
    backdate_reason: str | None = None  # why an earlier occurred_at (a late record, 补录)


@dataclass(frozen=True)
class CloseCase:
    """Close the case out (办结) after its reply or a decision not to accept it."""

    roles: ClassVar[frozenset[str]] = CLOSING_ROLES
    occurred_at: datetime | None = None
    backdate_reason: str | None = None  # why an earlier occurred_at (a late record, 补录)


@dataclass(frozen=True)
class RequestReview:
    """The petitioner's request for review (复查) or re-review (复核), as the office records it."""

    roles: ClassVar[frozenset[str]] = REVIEW_ROLES
    level: ReviewLevel
    reason: str
    occurred_at: datetime | None = None
    backdate_reason: str | None = None  # why an earlier occurred_at (a late record, 补录)


@dataclass(frozen=True)
class EvaluateCase:
    """The petitioner's rating of the handling (满意度评价), by tracking code: no staff role asks;
    with a short comment of theirs, if they wrote one."""

    roles: ClassVar[frozenset[str]] = frozenset()
    rating: Rating
    occurred_at: datetime | None = None
    backdate_reason: str | None = None  # why an earlier occurred_at (a late record, 补录)
    comment: str | None = None


CaseCommand = DecideAcceptance | ExtendHandling | ReplyToCase | CloseCase | RequestReview | EvaluateCase


@dataclass(frozen=True)
class LegacyCase:
    """A case from the old system: its registration and later steps, each dated when it really
    happened. ``legacy_id`` is the old system's number; the case id derives from it."""

    legacy_id: str
    registration: RegisterPetition
    steps: tuple[CaseCommand, ...] = ()


@dataclass(frozen=True)
class ImportHistoricalCases:
    """Bring the old system's cases in, each stored whole or refused with its reason."""

    roles: ClassVar[frozenset[str]] = REGISTERING_ROLES
    cases: tuple[LegacyCase, ...]


# ---------------------------------------------------------------- the status a case answers with

ASSIGNED = "assigned"
# Routing's assignment (交办) is not one of the case's events, so the case cannot know it; it shows
# only while the case still waits for the unit's acceptance decision
STATUS_ONCE_ASSIGNED = {"registered": ASSIGNED}
# a case still in its handling: the same matter is not accepted again meanwhile (第十六条)
OPEN_STATUSES = frozenset({"registered", ASSIGNED, "accepted", "under_review", "under_re_review"})


def case_status(own: str, assigned: bool) -> str:
    """The one rule for the status intake answers: the case's own (``Case.status``, from its
    events), except that a registered case routing has assigned to a unit reads "assigned".

    Applied to its own answer it changes nothing more (``case_status(case_status(s, a), True) ==
    case_status(s, True)``): so the read model may apply it, on an assignment, to the status it
    stores, in one statement that a concurrent command cannot interleave with."""
    return STATUS_ONCE_ASSIGNED.get(own, own) if assigned else own


@dataclass
class Case(Aggregate):
    """The case as intake decides on it. Changes only by ``apply``."""

    case_id: str
    version: int = 0
    status: str = "new"                        # its own, from its events; the API answers case_status()
    office: str | None = None
    registered: CaseRegistered | None = None
    registered_at: datetime | None = None
    last_occurred_at: datetime | None = None
    procedure: str | None = None
    accepted_at: datetime | None = None
    extended: bool = False
    extended_days: int = 0
    review_level: str | None = None            # None, then "review", then "re_review"
    review_requested: dict[str, datetime] = field(default_factory=dict)   # level -> when requested
    replies: dict[str, datetime] = field(default_factory=dict)   # stage -> when replied
    evaluated: bool = False
    history: list[Envelope] = field(default_factory=list)

    # ---------------------------------------------------------------- state

    @property
    def flags(self) -> list[str]:
        return list(self.registered.flags) if self.registered else []

    @property
    def final(self) -> bool:
        """三级终访: after the re-review opinion the same matter is no longer accepted."""
        return "re_review" in self.replies

    @property
    def first_reply_at(self) -> datetime | None:
        return self.replies.get("handling")

    def when(self, event: BaseModel, env: Envelope) -> None:
        at = env.occurred_at
        match event:
            case CaseRegistered():
                self.status, self.office, self.registered, self.registered_at = (
                    "registered", env.office, event, env.recorded_at)
            case CaseAccepted():
                self.status, self.procedure, self.accepted_at = "accepted", event.procedure, at
            case CaseNotAccepted():
                self.status = event.decision
            case HandlingExtended():
                self.extended, self.extended_days = True, event.days
            case CaseReplied():
                self.replies[event.stage] = at
                self.status = "replied"
            case CaseClosed():
                self.status = "closed"
            case ReviewRequested():
                self.review_level = event.level
                self.review_requested[event.level] = at
                self.status = "under_review" if event.level == "review" else "under_re_review"
            case CaseEvaluated():
                self.evaluated = True
        self.last_occurred_at = max(self.last_occurred_at or at, at)
        self.history.append(env)

    # ---------------------------------------------------------------- decisions

    def evaluation_until(self, rules: IntakeRules) -> datetime | None:
        """The end of the window in which the petitioner may evaluate (from the first reply)."""
        if self.first_reply_at is None:
            return None
        return self.first_reply_at + timedelta(days=rules.evaluation_window_days)

    def review_request_window(self, rules: IntakeRules) -> tuple[ReviewLevel, datetime] | None:
        """The request the petitioner may make next, review (复查) or re-review (复核), and the end
        of its window (from the reply it is against); None when there is none to make."""
        if self.final or self.status not in ("replied", "closed"):
            return None
        level: ReviewLevel
        level, after = ("review", "handling") if self.review_level is None else ("re_review", "review")
        if self.review_level == "re_review" or after not in self.replies:
            return None
        return level, self.replies[after] + timedelta(days=rules.review_window_days)

    def expected_dates(self, now: datetime, cal: WorkCalendar, rules: IntakeRules) -> list[tuple[str, datetime]]:
        """What the petitioner waits for next and by when (exclusive end instants), from the limits
        the clocks run on: before the acceptance decision the day the receipt promises it; once
        accepted the reply's due date (moved by an extension); during a review its opinion's;
        after a reply how long they may evaluate and ask for the next review (windows still open)."""
        limits = rules.limits
        if self.status == "registered" and self.registered is not None:
            return [("acceptance", limits.acceptance_promise(self.registered.received_at, cal))]
        if self.status == "accepted" and self.accepted_at is not None:
            return [("reply", limits.reply_due(self.accepted_at, self.procedure, self.extended_days, cal))]
        if self.status in ("under_review", "under_re_review") and self.review_level in self.review_requested:
            level = self.review_level
            return [(f"{level}_opinion", limits.opinion_due(level, self.review_requested[level], cal))]
        out: list[tuple[str, datetime]] = []
        until = self.evaluation_until(rules)
        if until is not None and not self.evaluated and now <= until:
            out.append(("evaluation", until))
        if (window := self.review_request_window(rules)) is not None and now <= window[1]:
            out.append((f"{window[0]}_request", window[1]))
        return out

    def check_time(self, occurred_at: datetime, now: datetime, rules: IntakeRules) -> None:
        if occurred_at > now + rules.clock_skew:
            raise InvalidInput("occurred_at lies in the future", "发生时间不能晚于当前时间", field="occurred_at")
        if self.last_occurred_at and occurred_at < self.last_occurred_at:
            raise InvalidInput(f"occurred_at is before the previous step ({self.last_occurred_at.isoformat()})",
                               "发生时间不能早于上一步骤", field="occurred_at")

    def decide(self, command: CaseCommand, at: datetime, rules: IntakeRules = IntakeRules()) -> BaseModel:
        """The event ``command`` makes at ``at``, or the rule that refuses it."""
        match command:
            case DecideAcceptance():
                return self.accept(command.decision, command.procedure, command.notice, command.unit_id, rules)
            case ExtendHandling():
                return self.extend(command.days, command.reason, command.approver, rules)
            case ReplyToCase():
                return self.reply(command.outcome, command.text)
            case CloseCase():
                return self.close()
            case RequestReview():
                return self.request_review(command.level, command.reason, at, rules)
            case EvaluateCase():
                return self.evaluate(command.rating, at, rules, command.comment)
            case _:
                assert_never(command)

    def accept(self, decision: Literal["accepted"] | Refusal, procedure: Procedure, notice: str, unit_id: str | None,
               rules: IntakeRules = IntakeRules()):
        if self.status != "registered":
            raise RuleViolation(f"an acceptance decision was made already (status {self.status})",
                                "该事项已作出受理决定", rule="one acceptance decision per case")
        flags = set(self.flags)
        if decision == "accepted":
            if "final_matter" in flags:
                raise RuleViolation("the matter was re-reviewed already: it is no longer accepted",
                                    "该事项已经复核终结（三级终访），不再受理",
                                    rule="信访条例 (2005) 第三十五条: 三级终访")
            if "pending_elsewhere" in flags:
                raise RuleViolation("the same matter is still being handled within its limit: it is no longer "
                                    "accepted meanwhile", "同一事项仍在办理期限内，不再受理",
                                    rule="信访条例 (2005) 第十六条")
            if "law_related" in flags:
                raise RuleViolation("a law-related petition is not accepted; answer it with the legal channel",
                                    "涉法涉诉事项不予受理，应告知其依法通过法定途径解决", rule="诉访分离")
            if procedure == "simplified" and not simplified_eligible(flags):
                raise RuleViolation("the simplified procedure is only for first petitions that are not "
                                    "collective, law-related, repeated or skip-level",
                                    "不符合简易办理条件（仅限初信初访且非集体访、涉法涉诉、重复访、越级访）",
                                    rule="信访事项简易办理办法（试行）国信发〔2016〕8号")
            return CaseAccepted(procedure=procedure, notice=notice, unit_id=unit_id)
        if decision == "no_longer_accepted" and not flags & {"final_matter", "pending_elsewhere"}:
            raise RuleViolation("'no longer accepted' is only for a matter re-reviewed already or still being "
                                "handled elsewhere; use 'not accepted'",
                                "仅复核终结或仍在办理期限内的同一事项可不再受理，其他情形应为不予受理",
                                rule="信访条例 (2005) 第十六、三十五条")
        return CaseNotAccepted(decision=decision, notice=notice, unit_id=unit_id)

    def extend(self, days: int, reason: str, approver: str, rules: IntakeRules = IntakeRules()):
        if self.status != "accepted":
            raise RuleViolation("only an accepted case awaiting its reply can be extended",
                                "只有已受理、尚未答复的事项可以延期", rule="信访条例 (2005) 第三十三条")
        if self.extended:
            raise RuleViolation("the handling period was extended once already", "办理期限只能延长一次",
                                rule="信访条例 (2005) 第三十三条: 延长不得超过三十日，一次为限")
        if not 1 <= days <= rules.extension_max_days:
            raise InvalidInput(f"days must be 1 to {rules.extension_max_days}",
                               f"延长天数应为 1 至 {rules.extension_max_days} 日", field="days")
        return HandlingExtended(days=days, reason=reason, approver=approver)

    def reply(self, outcome: Outcome, text: str):
        if self.status not in ("accepted", "under_review", "under_re_review"):
            raise RuleViolation(f"a reply needs an accepted case or a pending review (status {self.status})",
                                "答复须在受理之后或复查、复核申请之后作出", rule="受理后方可答复")
        return CaseReplied(outcome=outcome, text=text, stage=STAGE_OF_LEVEL[self.review_level])

    def close(self):
        if self.status not in ("replied", "not_accepted", "no_longer_accepted"):
            raise RuleViolation(f"only a replied or not-accepted case can be closed (status {self.status})",
                                "只有已答复或不予受理的事项可以办结", rule="答复后方可办结")
        return CaseClosed()

    def request_review(self, level: ReviewLevel, reason: str, occurred_at: datetime, rules: IntakeRules = IntakeRules()):
        expected, after = ("review", "handling") if level == "review" else ("re_review", "review")
        if self.final:
            raise RuleViolation("the case was re-reviewed: it is final", "该事项已复核终结（三级终访）",
                                rule="信访条例 (2005) 第三十五条: 三级终访")
        order_ok = (level == "review" and self.review_level is None) or \
                   (level == "re_review" and self.review_level == "review")
        if not order_ok or after not in self.replies or self.status not in ("replied", "closed"):
            raise RuleViolation(f"a {expected} request needs the {after} reply first, in order review then re-review",
                                "须先有答复意见，并依次申请复查、复核", rule="信访条例 (2005) 第三十四、三十五条")
        window = self.review_request_window(rules)
        if window is not None and occurred_at > window[1]:
            raise RuleViolation(f"the {rules.review_window_days}-day window after the reply has passed",
                                f"已超过收到答复意见之日起 {rules.review_window_days} 日的申请期限",
                                rule="信访条例 (2005) 第三十四条: 三十日内")
        return ReviewRequested(level=level, reason=reason)

    def evaluate(self, rating: Rating, occurred_at: datetime, rules: IntakeRules = IntakeRules(),
                 comment: str | None = None):
        until = self.evaluation_until(rules)
        if until is None:
            raise RuleViolation("the case can be evaluated once it is replied", "事项答复后方可评价",
                                rule="答复后评价")
        if self.evaluated:
            raise RuleViolation("the case was evaluated already", "该事项已评价，不能重复评价", rule="一次评价")
        if occurred_at > until:
            raise RuleViolation(f"the {rules.evaluation_window_days}-day evaluation window has passed",
                                f"已超过答复后 {rules.evaluation_window_days} 日的评价期限", rule="评价期限")
        comment = (comment or "").strip() or None
        if comment is not None and len(comment) > rules.evaluation_comment_max_chars:
            n = rules.evaluation_comment_max_chars
            raise InvalidInput(f"comment: at most {n} characters", f"评价意见不超过 {n} 个字", field="comment")
        return CaseEvaluated(rating=rating, comment=comment)


def simplified_eligible(flags: set[str]) -> bool:
    return "first_petition" in flags and not flags & {"collective", "law_related", "repeat", "skip_level",
                                                       "final_matter", "pending_elsewhere"}


def register(case_id: str, reg: Registration, tracking_code: str, *, actor: Principal,
             known_division: Callable[[str], bool], prior: Sequence[PriorCase] = (), now: datetime | None = None,
             rules: IntakeRules = IntakeRules()) -> tuple[CaseRegistered, str]:
    """Decide the registration: returns the event payload and the office (jurisdiction)."""
    now = now or datetime.now(UTC)
    if actor.role not in REGISTERING_ROLES:
        raise Forbidden(f"role {actor.role} does not register petitions", "当前角色无权登记信访事项")
    validate_registration(reg, now, known_division, rules)
    if not actor.in_jurisdiction(reg.division_code):
        raise Forbidden("division_code lies outside your jurisdiction", "问题发生地不在您的管辖范围内",
                        field="division_code")
    flags, repeat_of = flags_for(reg, actor, list(prior), rules)
    payload = CaseRegistered(
        tracking_code_hint=tracking_code[-4:],
        channel=reg.channel,  # type: ignore[arg-type]
        received_at=reg.received_at,
        petitioners=[PetitionerRef(petitioner_id=p.petitioner_id, id_type=p.id_type,
                                   id_number_masked=mask_id(p.id_number), phone_masked=mask_phone(p.phone))
                     for p in reg.petitioners],
        headcount=reg.headcount,
        purpose=reg.purpose,  # type: ignore[arg-type]
        category_code=reg.category_code,
        division_code=reg.division_code,
        summary=reg.summary,
        flags=flags,
        repeat_of=repeat_of,
    )
    return payload, jurisdiction_of(reg.division_code)

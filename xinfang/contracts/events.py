"""Every event type of Xinfang, with its schema and version. Past-tense facts only.

Personal data rule: no payload carries an ID number or phone number in clear. Intake keeps
those encrypted in its own database; events carry masked forms only.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xinfang.contracts.registry import registry

Channel = Literal["letter", "visit", "online", "phone"]
Purpose = Literal["suggestion", "accusation", "appeal"]
Procedure = Literal["normal", "simplified"]
Refusal = Literal["not_accepted", "no_longer_accepted"]
Outcome = Literal["supported", "explained", "not_supported"]
HandlingStage = Literal["handling", "review", "re_review"]
ReviewLevel = Literal["review", "re_review"]
Rating = Literal["satisfied", "basically_satisfied", "dissatisfied"]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Backdated(Payload):
    """The mark of an act recorded later than it happened (补录, 倒签): who entered it, when, and
    why (``xinfang.business_time``). Its ``occurred_at`` (the envelope's) is the business time."""

    reason: str = Field(description="why it is recorded late, e.g. 网下办理，纸质文书次日补录")
    entered_by: str = Field(description="the user who entered it")
    recorded_at: datetime = Field(description="when it was entered")
    correction: bool = Field(default=False, description="dated back further than XINFANG_BACKDATE_DAYS, by a "
                                                        "role permitted to correct records")


class Act(Payload):
    """A case event a person's command makes, which may be recorded late: ``backdated`` is set
    when its business time lies before the time it was entered."""

    backdated: Backdated | None = Field(default=None, description="set when the act was recorded late (补录)")


class PetitionerRef(Payload):
    """A petitioner as other services see them: masked, never in clear."""

    petitioner_id: str
    id_type: str
    id_number_masked: str
    phone_masked: str | None = None


# ---------------------------------------------------------------- intake (the case)


@registry.event("CaseRegistered", version=3, producer="intake")
class CaseRegistered(Act):
    tracking_code_hint: str = Field(description="last 4 characters of the tracking code, for clerks")
    channel: Channel
    received_at: datetime
    petitioners: list[PetitionerRef]
    headcount: int
    purpose: Purpose
    category_code: str
    division_code: str
    summary: str
    flags: list[str] = Field(default_factory=list)
    repeat_of: str | None = Field(default=None, description="the earlier case of the same person and matter")
    imported: bool = Field(default=False, description="brought in from the old system with its real dates: "
                                                      "its later steps happened in the past, not now")


@registry.upcaster("CaseRegistered", from_version=1)
def _case_registered_v1_to_v2(p: dict) -> dict:
    """v1 (the prototype) carried one ``petitioner`` and no headcount; v2 carries a list."""
    p = dict(p)
    single = p.pop("petitioner")
    p["petitioners"] = [single]
    p.setdefault("headcount", 1)
    p.setdefault("flags", [])
    return p


@registry.event("CaseAccepted", version=2, producer="intake")
class CaseAccepted(Act):
    procedure: Procedure
    notice: str
    unit_id: str | None = None


@registry.event("CaseNotAccepted", version=2, producer="intake")
class CaseNotAccepted(Act):
    decision: Refusal
    notice: str
    unit_id: str | None = None


@registry.event("HandlingExtended", version=2, producer="intake")
class HandlingExtended(Act):
    days: int
    reason: str
    approver: str


@registry.event("CaseReplied", version=2, producer="intake")
class CaseReplied(Act):
    """A reply (答复意见书), or at review / re-review level the review / re-review opinion."""

    outcome: Outcome
    text: str
    stage: HandlingStage = "handling"


@registry.event("CaseClosed", version=2, producer="intake")
class CaseClosed(Act):
    pass


@registry.event("ReviewRequested", version=2, producer="intake")
class ReviewRequested(Act):
    level: ReviewLevel
    reason: str


@registry.event("CaseEvaluated", version=3, producer="intake")
class CaseEvaluated(Act):
    """The petitioner's rating (满意度评价), with a short comment of their own if they wrote one:
    free text that may hold anything, so it is never logged."""

    rating: Rating
    comment: str | None = None


@registry.upcaster("CaseEvaluated", from_version=1)
def _case_evaluated_v1_to_v2(p: dict) -> dict:
    """v1 carried the rating alone: an evaluation from before had no comment."""
    return {**p, "comment": None}


# ---------------------------------------------------------------- routing (who handles it)


@registry.event("CaseAssigned", version=2, producer="routing")
class CaseAssigned(Act):
    unit_id: str
    mode: Literal["assign", "forward"] = "assign"
    rule: str | None = Field(default=None, description="the routing rule that chose the unit")
    reason: str | None = None
    previous_unit_id: str | None = None
    co_unit_ids: list[str] = Field(default_factory=list, description="co-handling units (协办)")
    stage: HandlingStage = "handling"
    imported: bool = Field(default=False, description="the assignment of a case imported from the old system, "
                                                      "dated when it was registered there")


@registry.event("CaseSignedFor", version=2, producer="routing")
class CaseSignedFor(Act):
    unit_id: str


@registry.event("CaseObjected", version=2, producer="routing")
class CaseObjected(Act):
    unit_id: str
    reason: str


def _not_backdated(p: dict) -> dict:
    """Before the mark of an act recorded late existed, no act carried one (none was marked)."""
    return {**p, "backdated": None}


# the acts that gained ``backdated``: each from its version before it
for _name, _before in (("CaseRegistered", 2), ("CaseAccepted", 1), ("CaseNotAccepted", 1), ("HandlingExtended", 1),
                       ("CaseReplied", 1), ("CaseClosed", 1), ("ReviewRequested", 1), ("CaseEvaluated", 2),
                       ("CaseAssigned", 1), ("CaseSignedFor", 1), ("CaseObjected", 1)):
    registry.upcaster(_name, from_version=_before)(_not_backdated)


@registry.event("CaseOwnedByLeader", producer="routing")
class CaseOwnedByLeader(Payload):
    """A leader takes personal charge of the case (领导包案)."""

    leader: str = Field(description="the leader's user name")
    note: str | None = None


# ---------------------------------------------------------------- supervision (when it is due)

Stage = Literal["assignment", "objection", "acceptance", "handling", "review", "re_review", "supervision"]


@registry.event("DeadlineSet", producer="supervision")
class DeadlineSet(Payload):
    stage: Stage
    starts_at: datetime
    due_at: datetime
    limit_days: int
    day_kind: Literal["calendar", "working"]
    basis: str = Field(description="the fact the clock starts from, e.g. received_at")
    warning: str | None = Field(default=None, description="e.g. a year counted Monday-Friday (no schedule)")


@registry.event("DeadlineWarned", producer="supervision")
class DeadlineWarned(Payload):
    stage: Stage
    level: Literal["notice", "warning", "serious_warning"]
    share_used: float
    due_at: datetime


@registry.event("DeadlineExpired", producer="supervision")
class DeadlineExpired(Payload):
    stage: Stage
    due_at: datetime


@registry.event("SupervisionOrderIssued", producer="supervision")
class SupervisionOrderIssued(Payload):
    order_id: str
    requirement: str
    reply_by: date


@registry.event("DeadlineMet", producer="supervision")
class DeadlineMet(Payload):
    """The act a stage's clock waited for happened (assigned, accepted, replied)."""

    stage: Stage
    met_at: datetime
    on_time: bool
    due_at: datetime | None = None


@registry.event("SupervisionOrderAnswered", producer="supervision")
class SupervisionOrderAnswered(Payload):
    order_id: str
    text: str
    unit_id: str | None = None


@registry.event("SupervisionOrderEscalated", producer="supervision")
class SupervisionOrderEscalated(Payload):
    """An order left unanswered past its reply date goes to the level above."""

    order_id: str
    reply_by: date
    escalated_to: str = Field(description="12-digit division code of the level above the issuer")


@registry.event("ReminderSent", producer="supervision")
class ReminderSent(Payload):
    """催办: a supervisor chased the unit."""

    text: str
    unit_id: str | None = None


@registry.event("CollectiveVisitAlerted", producer="supervision")
class CollectiveVisitAlerted(Payload):
    alert_id: str
    headcount: int
    threshold: int
    level: Literal["county", "city", "province", "national"]
    division_code: str


# ---------------------------------------------------------------- routing (the organisation)
# Organisation events are keyed by "org:<6-digit county prefix>" in the envelope's case_id, so one
# county's organisation changes stay in order on one partition.


@registry.event("DivisionAdded", producer="routing")
class DivisionAdded(Payload):
    code: str = Field(pattern=r"^\d{12}$")
    name: str
    level: Literal["province", "city", "county", "township", "village"]
    parent: str | None = None
    demo: bool = False


@registry.event("UnitAdded", producer="routing")
class UnitAdded(Payload):
    unit_id: str
    name: str
    kind: Literal["petition_office", "department", "township_government", "joint_conference_office"]
    division_code: str = Field(pattern=r"^\d{12}$")
    demo: bool = False


@registry.event("UnitUpdated", producer="routing")
class UnitUpdated(Payload):
    unit_id: str
    name: str | None = None
    active: bool | None = None


@registry.event("RoutingRuleAdded", producer="routing")
class RoutingRuleAdded(Payload):
    """A routing rule: cases arising under ``division_prefix`` whose category starts with
    ``category_prefix`` (empty: any) go to ``unit_id``."""

    rule_id: str
    division_prefix: str = Field(pattern=r"^\d{2,12}$")
    category_prefix: str = Field(default="", pattern=r"^(\d{2}|\d{4})?$")
    unit_id: str
    note: str | None = None


@registry.event("RoutingRuleRetired", producer="routing")
class RoutingRuleRetired(Payload):
    rule_id: str


# ---------------------------------------------------------------- routing (staff accounts)
# Keyed by "staff:<username>". Every service consumes it: a token issued before it stops working
# there at once, not when it expires (tokens are checked with the public key alone).


@registry.event("StaffAccessRevoked", producer="routing")
class StaffAccessRevoked(Payload):
    """The tokens a staff member holds stop working: the account was disabled or its password
    changed. The event's ``occurred_at`` is the instant: tokens issued before it are refused."""

    username: str
    reason: Literal["disabled", "password_changed"]


# ---------------------------------------------------------------- every producing service (audit)
# Keyed by "chain:<service>". Each service signs the head of its own event chain
# (xinfang/storage/chain.py) now and then; every other service keeps the checkpoints it hears
# (xinfang/storage/checkpoints.py), so deleting the newest events of one store shows against them.


@registry.event("ChainCheckpointSigned", producer="any")
class ChainCheckpointSigned(Payload):
    """``service``'s event chain had ``size`` links, the last one ``head``, at ``signed_at``;
    ``signature`` is Ed25519 over the statement ``xinfang.storage.checkpoints.statement`` makes
    of these, by the key whose raw public bytes are ``public_key`` (base64)."""

    service: str
    size: int = Field(ge=0)
    head: str = Field(pattern=r"^[0-9a-f]{64}$")
    signed_at: datetime
    key_id: str
    public_key: str
    signature: str

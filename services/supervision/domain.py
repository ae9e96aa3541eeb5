"""Supervision's domain rules: the legal clock on each stage of a case, its warning levels,
supervision orders' escalation and collective-visit thresholds.

Limits are the legal values (信访工作条例 2022, 信访条例 2005, 简易办理办法 2016; docs/configuration.md),
each configurable (``XINFANG_LIMIT_*``), with its day kind (calendar 日 or working 工作日); they and
their counting live in the kernel (xinfang.deadlines), where intake reads the same ones.

Counting (期间开始之日不计算在内): "N days from D" is due at the end of day D+N, China time;
"N working days from D" at the end of the N-th working day after D (xinfang.workdays).

The clocks, and the events that start, move and stop them:

- assignment: 15 days from ``received_at``; met by the first CaseAssigned.
- handling: provisional 60 days from ``received_at`` at registration, re-based on CaseAccepted
  (normal: 60 days from acceptance; simplified: 10 working days); one HandlingExtended moves it
  by at most 30 days; met by CaseReplied(stage=handling).
- objection: 5 working days from CaseAssigned, informational (no warnings, no expiry): the window
  in which the unit may object; ends at sign-for, objection or acceptance.
- acceptance: 15 days from CaseAssigned; met by CaseAccepted / CaseNotAccepted. A case accepted
  under the simplified procedure is judged on time against 3 working days from assignment (the
  procedure is only known when the unit accepts, so the running clock is the 15-day one).
- review / re_review: 30 days from ReviewRequested; met by CaseReplied(stage=review|re_review).
- CaseClosed stops every clock still running (status ``stopped``, no DeadlineMet).

Warning levels: the shares 50 / 75 / 85 / 99 % map one to one onto 正常 / 预警 / 警告 / 严重警告
(normal / notice / warning / serious_warning), then 超期 (overdue) at 100 %. Crossing 50 % keeps
the clock ``normal`` (no event: nothing to chase yet); 75, 85 and 99 % publish DeadlineWarned
notice, warning, serious_warning; 100 % publishes DeadlineExpired. Shares are of the elapsed
wall-clock span between start and due instant (also for working-day clocks). An imported case's
crossings up to its import are the old system's past: they set the clock's level, unpublished.

Supervision orders (督办单): ``SupervisionOrder``, an aggregate on its case's stream. A supervisor,
leader or admin issues one on an open case; only the case's handling unit (or an admin) answers it,
once; unanswered at the end of its reply date it escalates to the level above the issuer.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from xinfang.aggregate import Aggregate
from xinfang.contracts import Envelope
from xinfang.contracts.events import (
    CaseAccepted,
    CaseAssigned,
    CaseClosed,
    CaseNotAccepted,
    CaseObjected,
    CaseRegistered,
    CaseReplied,
    CaseSignedFor,
    CollectiveVisitAlerted,
    DeadlineExpired,
    DeadlineMet,
    DeadlineSet,
    DeadlineWarned,
    HandlingExtended,
    ReminderSent,
    ReviewRequested,
    SupervisionOrderAnswered,
    SupervisionOrderEscalated,
    SupervisionOrderIssued,
)
from xinfang.deadlines import DayKind, DeadlineLimits, due_at
from xinfang.errors import Conflict, Forbidden, InvalidInput
from xinfang.security import Principal, division_level, division_prefix, require_role
from xinfang.workdays import WorkCalendar, end_of_day, local_date

LEVELS = ("normal", "notice", "warning", "serious_warning")
WARNED_STAGES = frozenset({"assignment", "acceptance", "handling", "review", "re_review"})


class DeadlineRules(DeadlineLimits):
    """The limits every service counts with (xinfang.deadlines), and supervision's own numbers."""

    model_config = SettingsConfigDict(env_prefix="XINFANG_LIMIT_", extra="ignore", populate_by_name=True)

    # shares of the limit → normal / notice / warning / serious_warning; overdue at 100 %
    level_shares: tuple[float, float, float, float] = (0.50, 0.75, 0.85, 0.99)
    # 积案: a case whose reply is this many days past its handling deadline (the ledger); the same
    # variable sets reporting's count, so the ledger and the count agree
    backlog_after_days: int = Field(30, validation_alias=AliasChoices("XINFANG_BACKLOG_AFTER_DAYS",
                                                                      "XINFANG_LIMIT_BACKLOG_AFTER_DAYS"))


class AlertRules(BaseSettings):
    """Collective-visit (集体访) thresholds by the level of the office that registered it."""
    model_config = SettingsConfigDict(env_prefix="XINFANG_COLLECTIVE_", extra="ignore")

    county: int = 50
    city: int = 30
    province: int = 10
    national: int = 3

    def threshold(self, office: str) -> tuple[str, int]:
        """(level, threshold) for a registration by ``office``. A township registers on the
        county's behalf, so it uses the county threshold; ``000000000000`` is the national office."""
        if office.strip("0") == "":
            return "national", self.national
        level = division_level(office)
        if level in ("township", "village"):
            level = "county"
        return level, getattr(self, level)

    def alert(self, office: str, headcount: int, division_code: str, alert_id: str) -> CollectiveVisitAlerted | None:
        """The alert a registration by ``office`` raises: at or above its level's threshold; below, none."""
        level, threshold = self.threshold(office)
        if headcount < threshold:
            return None
        return CollectiveVisitAlerted(alert_id=alert_id, headcount=headcount, threshold=threshold,
                                      level=level, division_code=division_code)  # type: ignore[arg-type]


# ------------------------------------------------------------------ counting


def schedule_warning(start: datetime, due: datetime, kind: DayKind, cal: WorkCalendar) -> str | None:
    """Working days counted in a year with no published or loaded schedule: say so."""
    if kind != "working":
        return None
    years = cal.fallback_years(local_date(start), local_date(due - timedelta(microseconds=1)))
    if not years:
        return None
    ys = ", ".join(map(str, years))
    return (f"no holiday schedule for {ys}: working days counted Monday to Friday "
            f"(load it with `xinfang calendar load FILE`) / {ys} 年节假日安排未发布，暂按周一至周五计算")


Crossing = tuple[str, float, datetime]  # (level, share, fire_at): a share of a clock that publishes an event


@dataclass(frozen=True)
class Clock:
    stage: str
    starts_at: datetime
    due_at: datetime
    limit_days: int
    day_kind: DayKind
    basis: str
    warning: str | None = None

    @classmethod
    def start(cls, stage: str, starts_at: datetime, days: int, kind: DayKind, basis: str,
              cal: WorkCalendar) -> Clock:
        due = due_at(starts_at, days, kind, cal)
        return cls(stage, starts_at, due, days, kind, basis, schedule_warning(starts_at, due, kind, cal))

    @property
    def warned(self) -> bool:
        return self.stage in WARNED_STAGES

    def share_used(self, now: datetime) -> float:
        span = (self.due_at - self.starts_at).total_seconds()
        if span <= 0:
            return 1.0
        return max(0.0, (now - self.starts_at).total_seconds() / span)

    def level_at(self, now: datetime, shares) -> str:
        if not self.warned:
            return "normal"
        if now >= self.due_at:
            return "overdue"
        s = self.share_used(now)
        level = "normal"
        for name, share in zip(LEVELS, shares, strict=False):
            if s >= share:
                level = name
        return level

    def checkpoints(self, shares) -> list[Crossing]:
        """(level, share, fire_at) of each crossing that publishes an event, in time order."""
        if not self.warned:
            return []
        span = self.due_at - self.starts_at
        out = [(name, share, self.starts_at + span * share) for name, share in zip(LEVELS, shares, strict=False)
               if name != "normal"]
        out.append(("overdue", 1.0, self.due_at))
        return out

    def event(self) -> DeadlineSet:
        return DeadlineSet(stage=self.stage, starts_at=self.starts_at, due_at=self.due_at,  # type: ignore[arg-type]
                           limit_days=self.limit_days, day_kind=self.day_kind, basis=self.basis,
                           warning=self.warning)


def crossing_event(stage: str, level: str, share: float, due_at: datetime) -> DeadlineWarned | DeadlineExpired:
    """What a crossing publishes: at 100 % the clock expired; before, a warning at its level."""
    if level == "overdue":
        return DeadlineExpired(stage=stage, due_at=due_at)  # type: ignore[arg-type]
    return DeadlineWarned(stage=stage, level=level, share_used=share, due_at=due_at)  # type: ignore[arg-type]


def split_at_import(crossings: Sequence[Crossing], imported_at: datetime | None) -> tuple[str | None, list[Crossing]]:
    """The level an imported case's clock had reached by its import (None: none yet), and the
    crossings still news; ``crossings`` in time order, as ``Clock.checkpoints`` gives them.

    Crossings up to the import are the old system's past, not news for a supervisor now (and the
    case's later steps, still to come, may well have met the clock in time): they set the clock's
    level but publish nothing. A case not imported has no such past."""
    past = [c for c in crossings if imported_at is not None and c[2] <= imported_at]
    return (past[-1][0] if past else None), list(crossings[len(past):])


# ------------------------------------------------------------------ the case's clocks


@dataclass(frozen=True)
class Started:
    clock: Clock


@dataclass(frozen=True)
class Stopped:
    stage: str
    at: datetime
    met: bool                 # the stage's act happened (DeadlineMet); False: closed / moot
    on_time: bool | None = None
    due_at: datetime | None = None

    def event(self) -> DeadlineMet | None:
        """DeadlineMet, when the act the clock waited for happened; None for a clock merely stopped."""
        if not self.met:
            return None
        return DeadlineMet(stage=self.stage, met_at=self.at, on_time=bool(self.on_time),  # type: ignore[arg-type]
                           due_at=self.due_at)


Decision = Started | Stopped


@dataclass
class CaseClocks:
    """What supervision knows of one case: the facts that drive its clocks, and the clocks."""
    case_id: str
    received_at: datetime | None = None
    assigned_at: datetime | None = None
    accepted_at: datetime | None = None
    procedure: str | None = None
    extended_days: int = 0
    closed: bool = False
    running: dict[str, Clock] = field(default_factory=dict)

    def handle(self, p: BaseModel, at: datetime, rules: DeadlineRules, cal: WorkCalendar) -> list[Decision]:
        """The decisions one event makes; the state moves with them."""
        out: list[Decision] = []
        if self.closed:
            return out
        match p:
            case CaseRegistered():
                if self.received_at is not None:
                    return out
                self.received_at = p.received_at
                out.append(self._start(Clock.start("assignment", p.received_at, rules.assignment_days,
                                                   rules.assignment_day_kind, "received_at", cal)))
                if self.assigned_at is not None:  # routing's event came first
                    out += self._stop("assignment", self.assigned_at, met=True)
                if self.accepted_at is None:
                    out.append(self._start(Clock.start("handling", p.received_at, rules.handling_days,
                                                       rules.handling_day_kind,
                                                       "received_at (provisional until accepted)", cal)))
            case CaseAssigned():
                if getattr(p, "stage", "handling") != "handling":
                    return out  # a review level's unit: the review clock runs from the request
                first = self.assigned_at is None
                self.assigned_at = self.assigned_at or at
                if first and "assignment" in self.running:
                    out += self._stop("assignment", at, met=True)
                if self.accepted_at is None:
                    out.append(self._start(Clock.start("objection", at, rules.objection_days,
                                                       rules.objection_day_kind, "assigned_at", cal)))
                    out.append(self._start(Clock.start("acceptance", at, rules.acceptance_days,
                                                       rules.acceptance_day_kind, "assigned_at", cal)))
            case CaseSignedFor() | CaseObjected():
                out += self._stop("objection", at, met=False)
            case CaseAccepted():
                if self.accepted_at is not None:
                    return out
                self.accepted_at, self.procedure = at, p.procedure
                on_time = None
                if p.procedure == "simplified" and self.assigned_at is not None:
                    on_time = at <= due_at(self.assigned_at, rules.simplified_acceptance_days,
                                           rules.simplified_day_kind, cal)
                out += self._stop("objection", at, met=False)
                out += self._stop("acceptance", at, met=True, on_time=on_time)
                out.append(self._start(self._handling(rules, cal)))
            case CaseNotAccepted():
                out += self._stop("objection", at, met=False)
                out += self._stop("acceptance", at, met=True)
                out += self._stop("handling", at, met=False)
            case HandlingExtended():
                if self.extended_days or self.accepted_at is None or "handling" not in self.running:
                    return out  # once only, and only on an accepted case's running clock
                self.extended_days = max(0, min(int(p.days), rules.extension_max_days))
                out.append(self._start(self._handling(rules, cal)))
            case CaseReplied():
                out += self._stop(p.stage, at, met=True)
            case ReviewRequested():
                days, kind = ((rules.review_days, rules.review_day_kind) if p.level == "review"
                              else (rules.re_review_days, rules.re_review_day_kind))
                out.append(self._start(Clock.start(p.level, at, days, kind, "review_requested_at", cal)))
            case CaseClosed():
                for stage in list(self.running):
                    out += self._stop(stage, at, met=False)
                self.closed = True
        return out

    def _handling(self, rules: DeadlineRules, cal: WorkCalendar) -> Clock:
        assert self.accepted_at is not None
        if self.procedure == "simplified":
            return Clock.start("handling", self.accepted_at, rules.simplified_reply_days,
                               rules.simplified_day_kind, "accepted_at (simplified procedure)", cal)
        c = Clock.start("handling", self.accepted_at, rules.handling_days, rules.handling_day_kind,
                        "accepted_at", cal)
        if self.extended_days:
            c = replace(c, due_at=c.due_at + timedelta(days=self.extended_days),
                        limit_days=c.limit_days + self.extended_days,
                        basis=f"accepted_at + extension of {self.extended_days} days")
        return c

    def _start(self, clock: Clock) -> Started:
        self.running[clock.stage] = clock
        return Started(clock)

    def _stop(self, stage: str, at: datetime, *, met: bool, on_time: bool | None = None) -> list[Decision]:
        clock = self.running.pop(stage, None)
        if clock is None:
            return []
        if met and on_time is None:
            on_time = at <= clock.due_at
        return [Stopped(stage, at, met, on_time if met else None, clock.due_at)]


# ------------------------------------------------------------------ supervision orders and reminders

# Who may do what, within their scope. Tuples: a refusal names the roles needed in this order.
ISSUING_ROLES = ("supervisor", "leader", "admin")   # 督办: issue a supervision order
REMINDING_ROLES = ISSUING_ROLES                     # 催办: chase the handling unit
ANSWERING_FOR_ANY_UNIT = ("admin",)                 # answers an order whichever unit it is addressed to

OrderStatus = Literal["new", "open", "answered", "escalated"]


def order_due(reply_by: date) -> datetime:
    """An order is answered in time up to the end of its reply date, China time."""
    return end_of_day(reply_by)


def parent_division(code: str) -> str:
    """The division one level above (township → county → city → province → national)."""
    prefix = division_prefix(code)
    parent_len = {9: 6, 6: 4, 4: 2, 2: 0}.get(len(prefix), 9)
    return prefix[:parent_len].ljust(12, "0")


def check_issuer(issuer: Principal, reply_by: date, today: date) -> None:
    """Who may issue an order, and a reply date not yet past. Checked before the case is looked up:
    a caller without the role is refused alike whether the case exists or not."""
    require_role(issuer, *ISSUING_ROLES)
    if reply_by < today:
        raise InvalidInput("reply_by lies in the past", "答复期限不能早于今天", field="reply_by")


def check_reminder(sender: Principal) -> None:
    """Who may send a reminder; checked, like issuing, before the case is looked up."""
    require_role(sender, *REMINDING_ROLES)


@dataclass(frozen=True)
class SupervisedCase:
    """What orders and reminders need of a case, as supervision knows it from the events it consumed."""

    case_id: str
    office: str
    unit_id: str | None   # the unit handling it now
    closed: bool

    def remind(self, text: str) -> ReminderSent:
        """催办: a reminder chases the unit handling the case now."""
        return ReminderSent(text=text, unit_id=self.unit_id)


@dataclass
class SupervisionOrder(Aggregate):
    """督办单: a supervisor requires the case's handling unit to act and answer by a date.

    Its events are on its case's stream, each naming the order; ``when`` folds only its own. Two of
    its facts are fixed when it is issued and carried by no event, so they are given when the order
    is drafted and kept with its state: the unit it is addressed to (the case's handling unit then),
    which alone answers it, and the issuer's jurisdiction, above which it escalates.
    """

    order_id: str
    unit_id: str | None = None
    issuer_jurisdiction: str = ""
    case_id: str = ""
    office: str = ""
    requirement: str = ""
    reply_by: date | None = None
    issued_by: str | None = None
    issued_at: datetime | None = None
    status: OrderStatus = "new"
    answer_text: str | None = None
    answered_at: datetime | None = None
    answered_by: str | None = None
    escalated_to: str | None = None
    escalated_at: datetime | None = None
    version: int = 0

    @classmethod
    def draft(cls, order_id: str, case: SupervisedCase, issuer: Principal) -> SupervisionOrder:
        """A new order on ``case`` by ``issuer``, not yet issued."""
        return cls(order_id, unit_id=case.unit_id, issuer_jurisdiction=issuer.jurisdiction)

    def when(self, event: BaseModel, env: Envelope) -> None:
        if getattr(event, "order_id", None) != self.order_id:
            return  # another order of the same case
        match event:
            case SupervisionOrderIssued():
                self.status, self.requirement, self.reply_by = "open", event.requirement, event.reply_by
                self.case_id, self.office, self.issued_by, self.issued_at = (
                    env.case_id, env.office, env.actor, env.occurred_at)
            case SupervisionOrderAnswered():
                self.status, self.answer_text, self.answered_at, self.answered_by = (
                    "answered", event.text, env.occurred_at, env.actor)
            case SupervisionOrderEscalated():
                self.status, self.escalated_to, self.escalated_at = "escalated", event.escalated_to, env.occurred_at

    # ---- commands

    def issue(self, case: SupervisedCase, requirement: str, reply_by: date) -> SupervisionOrderIssued:
        if self.status != "new":
            raise Conflict(f"order {self.order_id} was issued already", "该督办单已下发",
                           rule="order_issued")
        if case.closed:
            raise Conflict("the case is closed", "该信访事项已办结", rule="case_closed")
        return SupervisionOrderIssued(order_id=self.order_id, requirement=requirement, reply_by=reply_by)

    def answer(self, answerer: Principal, text: str) -> SupervisionOrderAnswered:
        """The addressed unit answers, once; an escalated order may still be answered."""
        if answerer.role not in ANSWERING_FOR_ANY_UNIT and (answerer.unit_id is None
                                                            or answerer.unit_id != self.unit_id):
            raise Forbidden("only the handling unit answers a supervision order", "督办单须由承办单位答复")
        if self.status == "answered":
            raise Conflict("this order was answered already", "该督办单已答复", rule="order_answered")
        return SupervisionOrderAnswered(order_id=self.order_id, text=text, unit_id=answerer.unit_id)

    def escalate(self) -> SupervisionOrderEscalated | None:
        """Still open at the end of its reply date: the order goes to the level above its issuer.
        None once answered or escalated: there is nothing left to escalate."""
        if self.status != "open" or self.reply_by is None:
            return None
        return SupervisionOrderEscalated(order_id=self.order_id, reply_by=self.reply_by,
                                         escalated_to=parent_division(self.issuer_jurisdiction))

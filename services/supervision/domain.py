"""Supervision's domain rules: the legal clock on each stage of a case, its warning levels,
supervision orders' escalation and collective-visit thresholds.

Limits are the legal values (信访工作条例 2022, 信访条例 2005, 简易办理办法 2016; docs/configuration.md),
each configurable (``XINFANG_LIMIT_*``), with its day kind (calendar 日 or working 工作日).

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
wall-clock span between start and due instant (also for working-day clocks).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from xinfang.contracts.events import DeadlineSet
from xinfang.security import division_level, division_prefix
from xinfang.workdays import WorkCalendar, end_of_day, local_date

DayKind = Literal["calendar", "working"]
LEVELS = ("normal", "notice", "warning", "serious_warning")
WARNED_STAGES = frozenset({"assignment", "acceptance", "handling", "review", "re_review"})


class DeadlineRules(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XINFANG_LIMIT_", extra="ignore")

    assignment_days: int = 15            # 信访工作条例 (2022) 第二十二条
    assignment_day_kind: DayKind = "calendar"
    objection_days: int = 5              # 2022 第二十三条: 5 个工作日
    objection_day_kind: DayKind = "working"
    acceptance_days: int = 15            # 2022 第二十三条; 2005 第二十一、二十二条
    acceptance_day_kind: DayKind = "calendar"
    handling_days: int = 60              # 信访条例 (2005) 第三十三条
    handling_day_kind: DayKind = "calendar"
    extension_max_days: int = 30         # same: once, at most 30 日
    review_days: int = 30                # 2005 第三十四条
    review_day_kind: DayKind = "calendar"
    re_review_days: int = 30             # 2005 第三十五条
    re_review_day_kind: DayKind = "calendar"
    simplified_acceptance_days: int = 3  # 信访事项简易办理办法（试行）国信发〔2016〕8号
    simplified_reply_days: int = 10      # same
    simplified_day_kind: DayKind = "working"
    # shares of the limit → normal / notice / warning / serious_warning; overdue at 100 %
    level_shares: tuple[float, float, float, float] = (0.50, 0.75, 0.85, 0.99)


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


# ------------------------------------------------------------------ counting


def due_at(start: datetime, days: int, kind: DayKind, cal: WorkCalendar) -> datetime:
    d = local_date(start)
    if kind == "calendar":
        return end_of_day(d + timedelta(days=days))
    return end_of_day(cal.add_working_days(d, days))


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

    def checkpoints(self, shares) -> list[tuple[str, float, datetime]]:
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

    def handle(self, event_type: str, p, at: datetime, rules: DeadlineRules, cal: WorkCalendar) -> list[Decision]:
        """The decisions one event makes; the state moves with them."""
        out: list[Decision] = []
        if self.closed:
            return out
        if event_type == "CaseRegistered":
            if self.received_at is not None:
                return out
            self.received_at = p.received_at
            out.append(self._start(Clock.start("assignment", p.received_at, rules.assignment_days,
                                               rules.assignment_day_kind, "received_at", cal)))
            if self.assigned_at is not None:  # routing's event came first
                out += self._stop("assignment", self.assigned_at, met=True)
            if self.accepted_at is None:
                out.append(self._start(Clock.start("handling", p.received_at, rules.handling_days,
                                                   rules.handling_day_kind, "received_at (provisional until accepted)",
                                                   cal)))
        elif event_type == "CaseAssigned":
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
        elif event_type in ("CaseSignedFor", "CaseObjected"):
            out += self._stop("objection", at, met=False)
        elif event_type == "CaseAccepted":
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
        elif event_type == "CaseNotAccepted":
            out += self._stop("objection", at, met=False)
            out += self._stop("acceptance", at, met=True)
            out += self._stop("handling", at, met=False)
        elif event_type == "HandlingExtended":
            if self.extended_days or self.accepted_at is None or "handling" not in self.running:
                return out  # once only, and only on an accepted case's running clock
            self.extended_days = max(0, min(int(p.days), rules.extension_max_days))
            out.append(self._start(self._handling(rules, cal)))
        elif event_type == "CaseReplied":
            out += self._stop(p.stage, at, met=True)
        elif event_type == "ReviewRequested":
            days, kind = ((rules.review_days, rules.review_day_kind) if p.level == "review"
                          else (rules.re_review_days, rules.re_review_day_kind))
            out.append(self._start(Clock.start(p.level, at, days, kind, "review_requested_at", cal)))
        elif event_type == "CaseClosed":
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


# ------------------------------------------------------------------ supervision orders


def order_due(reply_by: date) -> datetime:
    """An order is answered in time up to the end of its reply date, China time."""
    return end_of_day(reply_by)


def parent_division(code: str) -> str:
    """The division one level above (township → county → city → province → national)."""
    prefix = division_prefix(code)
    parent_len = {9: 6, 6: 4, 4: 2, 2: 0}.get(len(prefix), 9)
    return prefix[:parent_len].ljust(12, "0")

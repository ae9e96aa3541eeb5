"""Business time (业务时间): when an act happened, the time the rates and the clocks judge it by,
and the one rule for a live command that says it happened earlier than it is recorded.

A live act takes the time it is recorded: a command with no ``occurred_at``, or one within the
clock-skew tolerance of now, happened now. An earlier time is a late record (补录): true and
needed where a paper act (网下办理) is entered after the case moved online (网上流转). It is taken

- with a stated reason (``backdate_reason``, else a 422 naming it);
- at most ``XINFANG_BACKDATE_DAYS`` back (3 days by default), else a 422 naming ``occurred_at``;
  further back only by a role permitted to correct records (``CORRECTING_ROLES``: the
  administrator, who keeps the organisation and the accounts; not the supervisor, whose figures
  judge the dates, nor a handler or dispatcher, whose own lateness they would be);
- never before the case's previous step, in any service: each service checks that against what
  it knows of the case (``previous_steps``), before the window and the reason, since no reason
  makes such a time true.

A time taken earlier than now is marked in the act's event (``Backdated``: why, who entered it,
when), so the history shows it and reporting counts it beside the unit's rates. A future time
beyond the tolerance is a 422. The import of the old system's history is not a live act and is
not held to this rule (``services/intake/importer.py``); its steps keep their order.

Pure: ``now`` and the permission are arguments (docs/rates.md, "Business time").
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel

from xinfang.contracts.events import Act, Backdated
from xinfang.errors import InvalidInput

# the roles permitted to correct records: to date an act further back than the window
CORRECTING_ROLES = frozenset({"admin"})
OCCURRED_AT, BACKDATE_REASON = "occurred_at", "backdate_reason"
MAX_REASON_CHARS = 500

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class BackdatingRules:
    """The window a late record may go back (``XINFANG_BACKDATE_DAYS``) and the clock-skew tolerance."""

    window: timedelta = timedelta(days=3)
    clock_skew: timedelta = timedelta(minutes=5)

    @classmethod
    def from_settings(cls) -> BackdatingRules:
        from xinfang.config import settings

        return cls(window=timedelta(days=settings().backdate_days))


@dataclass(frozen=True)
class BusinessTime:
    """The business time of one live act, and its mark when it lies before the act was entered."""

    at: datetime
    backdated: Backdated | None = None

    def mark(self, event: M) -> M:
        """The act's event with the mark (unchanged when not back-dated); only an ``Act`` carries one."""
        if self.backdated is None:
            return event
        if not isinstance(event, Act):
            raise TypeError(f"{type(event).__name__} is not an act that may be recorded late")
        return event.model_copy(update={"backdated": self.backdated})


def may_correct_records(role: str | None) -> bool:
    return role in CORRECTING_ROLES


def business_time(asked: datetime | None, now: datetime, rules: BackdatingRules = BackdatingRules()) -> datetime:
    """The time a live act happened: ``now`` when none is asked or it is within the clock skew of
    now; the time asked when earlier; a time later than the skew allows is a 422."""
    if asked is None:
        return now
    if asked > now + rules.clock_skew:
        raise InvalidInput("occurred_at lies in the future", "发生时间不能晚于当前时间", field=OCCURRED_AT)
    return now if asked >= now - rules.clock_skew else asked


def backdating(at: datetime, reason: str | None, *, now: datetime, entered_by: str, may_correct: bool,
               rules: BackdatingRules = BackdatingRules()) -> Backdated | None:
    """The mark of an act dated ``at``, entered ``now``: None for a live act; else the window (unless
    ``may_correct``) and the reason are required."""
    if at >= now:
        return None
    beyond = now - at > rules.window
    days = rules.window.days
    if beyond and not may_correct:
        raise InvalidInput(
            f"occurred_at is more than {days} days before now: an act recorded late may be dated at most "
            f"{days} days back (XINFANG_BACKDATE_DAYS); further back only an administrator may correct the record",
            f"办理时间早于当前时间超过 {days} 日：补录最多可倒签 {days} 日，更早的须由系统管理员更正记录",
            field=OCCURRED_AT)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "backdate_reason: an act dated before now (occurred_at) is a late record and needs its reason, "
            "e.g. the paper notice was issued then and entered now",
            "补录理由：办理时间早于当前时间的（补录），须说明理由，例如纸质文书当日已送达、现补录入系统",
            field=BACKDATE_REASON)
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"backdate_reason: at most {MAX_REASON_CHARS} characters",
                           f"补录理由不超过 {MAX_REASON_CHARS} 个字", field=BACKDATE_REASON)
    return Backdated(reason=reason, entered_by=entered_by, recorded_at=now, correction=beyond)


def decide(asked: datetime | None, reason: str | None, *, now: datetime, entered_by: str, may_correct: bool,
           rules: BackdatingRules = BackdatingRules(),
           previous_steps: Callable[[datetime], None] | None = None) -> BusinessTime:
    """A live command's business time: ``business_time``, then the service's own check that it is
    not before the case's previous step (``previous_steps`` raises), then ``backdating``."""
    at = business_time(asked, now, rules)
    if previous_steps is not None:
        previous_steps(at)
    return BusinessTime(at, backdating(at, reason, now=now, entered_by=entered_by, may_correct=may_correct,
                                       rules=rules))

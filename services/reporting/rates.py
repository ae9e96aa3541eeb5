"""The five rates (五率), defined once in SQL. docs/rates.md says the same in words, and
``months.kinds`` the same per case in Python for the monthly sums (tests/integration/
test_reporting_months.py holds the two to the same figures): keep the three together.

Every rate is computed over the *case view* (one row per case, see ``views.case_view``) built
from the facts known at ``as_of`` (knowledge time), for a period ``[start, end)`` of business time.
``until`` is the end of the window the period is judged at: ``min(end, as_of)``, so a period
still running is judged as it stands at ``as_of``, and a closed period as it stood at its end.

- decision_at     the first acceptance decision (CaseAccepted / CaseNotAccepted)
- acceptance_due  the due date of the latest acceptance DeadlineSet, else received_at + the
                  legal acceptance limit (``acceptance_limit_days``)
- reply_at        the first reply at the handling stage (CaseReplied stage=handling)
- handling_due    the due date of the latest handling DeadlineSet (supervision re-issues it on
                  acceptance and on an extension, so an extension is included)
- eval_at, rating the latest evaluation
- reviewed        a ReviewRequested is known;  repeated: a later case names this one ``repeat_of``
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

RATES = ("timely_acceptance", "on_time_reply", "evaluation", "satisfaction", "first_time_resolution")


class ReportingRules(BaseSettings):
    """Numbers the rates use; environment ``XINFANG_REPORTING_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="XINFANG_REPORTING_", extra="ignore", populate_by_name=True)
    # 信访工作条例 (2022) Art. 23: decide on acceptance within 15 days of receipt
    acceptance_limit_days: int = 15
    # the ratings counted as satisfied (one provincial system has only 满意 / 不满意)
    satisfied_ratings: frozenset[str] = frozenset({"satisfied", "basically_satisfied"})
    # periods are calendar days in this zone
    timezone: str = "Asia/Shanghai"
    # an overdue case counts as backlog (积案) this many days after its reply deadline; the same
    # variable sets supervision's 积案 ledger, so the count and the ledger agree
    backlog_after_days: int = Field(30, validation_alias=AliasChoices("XINFANG_BACKLOG_AFTER_DAYS",
                                                                      "XINFANG_REPORTING_BACKLOG_AFTER_DAYS"))


def rules() -> ReportingRules:
    return ReportingRules()


@dataclass(frozen=True)
class Window:
    """A period of business time judged as known at ``as_of``."""

    start: datetime | None      # None: since the beginning
    end: datetime | None        # exclusive; None: open
    as_of: datetime

    @property
    def until(self) -> datetime:
        return self.as_of if self.end is None else min(self.end, self.as_of)

    def holds(self, col):
        cond = col < self.until
        return cond if self.start is None else sa.and_(col >= self.start, cond)

    def a_year_before(self, tz: str) -> Window | None:
        """The same period one year earlier (同比), judged as known at the same ``as_of``: from the
        start's day a year before to the day a year before ``until``, so a year to date compares
        with the same days of last year. None for a period with no start."""
        if self.start is None:
            return None
        return Window(year_before(self.start, tz), year_before(self.until, tz), self.as_of)


def day_start(d: date, tz: str) -> datetime:
    return datetime.combine(d, time(0), tzinfo=ZoneInfo(tz))


def year_before(t: datetime, tz: str) -> datetime:
    """The same time of day on the same date a year earlier, in ``tz``; 29 February gives the 28th."""
    local = t.astimezone(ZoneInfo(tz))
    try:
        return local.replace(year=local.year - 1)
    except ValueError:
        return local.replace(year=local.year - 1, day=28)


def period_of(frm: date | None, to: date | None, as_of: datetime, tz: str) -> Window:
    """``from``..``to`` are calendar days, both included."""
    return Window(day_start(frm, tz) if frm else None, day_start(to + timedelta(days=1), tz) if to else None, as_of)


def _n(cond):
    return sa.func.count().filter(cond)


def definitions(v, w: Window, r: ReportingRules) -> dict[str, tuple]:
    """Each rate as (numerator, denominator) SQL aggregates over the case view ``v``."""
    decided = w.holds(v.c.decision_at)
    undecided_past_limit = sa.and_(w.holds(v.c.acceptance_due),
                                   sa.or_(v.c.decision_at.is_(None), v.c.decision_at >= w.until))
    replied = w.holds(v.c.reply_at)
    unreplied_past_deadline = sa.and_(w.holds(v.c.handling_due), v.c.not_accepted == 0,
                                      sa.or_(v.c.reply_at.is_(None), v.c.reply_at >= w.until))
    evaluated = w.holds(v.c.eval_at)
    first_replied = sa.and_(replied, v.c.first_petition == 1)
    return {
        # 及时受理率: decisions within their limit ÷ (decisions + limits passed with no decision)
        "timely_acceptance": (_n(sa.and_(decided, v.c.decision_at <= v.c.acceptance_due)),
                              _n(decided) + _n(undecided_past_limit)),
        # 按期答复率: replies by their deadline ÷ (replies + deadlines passed with no reply)
        "on_time_reply": (_n(sa.and_(replied, sa.or_(v.c.handling_due.is_(None), v.c.reply_at <= v.c.handling_due))),
                          _n(replied) + _n(unreplied_past_deadline)),
        # 群众参评率: replied cases evaluated (by as_of) ÷ cases replied
        "evaluation": (_n(sa.and_(replied, v.c.eval_at.is_not(None))), _n(replied)),
        # 参评群众满意率: satisfied evaluations ÷ evaluations
        "satisfaction": (_n(sa.and_(evaluated, v.c.rating.in_(sorted(r.satisfied_ratings)))), _n(evaluated)),
        # 一次性化解率: replied first petitions with no review request and no repeat ÷ replied first petitions
        "first_time_resolution": (_n(sa.and_(first_replied, v.c.reviewed == 0, v.c.repeated == 0)), _n(first_replied)),
    }


def answer(numerator: int, denominator: int) -> dict:
    numerator, denominator = int(numerator or 0), int(denominator or 0)
    return {"rate": round(numerator / denominator, 4) if denominator else None,
            "numerator": numerator, "denominator": denominator}

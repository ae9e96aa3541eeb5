"""The legal time limits of a case's steps and how they are counted, written once for every service:
supervision runs its clocks on them, intake tells the petitioner the dates they fix (the public
tracking page), so the two never disagree. Each limit is configurable (``XINFANG_LIMIT_*``,
docs/configuration.md), with its day kind: calendar 日 or working 工作日.

Counting (期间开始之日不计算在内): "N days from D" is due at the end of day D+N, China time;
"N working days from D" at the end of the N-th working day after D (xinfang.workdays).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from xinfang.workdays import WorkCalendar, end_of_day, local_date

DayKind = Literal["calendar", "working"]


class DeadlineLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XINFANG_LIMIT_", extra="ignore", populate_by_name=True)

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

    def acceptance_promise(self, received_at: datetime, cal: WorkCalendar) -> datetime:
        """By when the petitioner is told whether the case is accepted (受理告知), counted from its
        receipt: what the receipt (受理凭证) promises."""
        return due_at(received_at, self.acceptance_days, self.acceptance_day_kind, cal)

    def reply_due(self, accepted_at: datetime, procedure: str | None, extended_days: int,
                  cal: WorkCalendar) -> datetime:
        """The handling clock's due instant: from the acceptance (simplified: in working days), an
        extension adding its days."""
        if procedure == "simplified":
            return due_at(accepted_at, self.simplified_reply_days, self.simplified_day_kind, cal)
        return due_at(accepted_at, self.handling_days, self.handling_day_kind, cal) + timedelta(days=extended_days)

    def opinion_due(self, level: str, requested_at: datetime, cal: WorkCalendar) -> datetime:
        """The review (复查) or re-review (复核) opinion's due instant, from the request."""
        if level == "review":
            return due_at(requested_at, self.review_days, self.review_day_kind, cal)
        return due_at(requested_at, self.re_review_days, self.re_review_day_kind, cal)


def due_at(start: datetime, days: int, kind: DayKind, cal: WorkCalendar) -> datetime:
    """The exclusive end instant of ``days`` (calendar or working) counted from ``start``."""
    d = local_date(start)
    if kind == "calendar":
        return end_of_day(d + timedelta(days=days))
    return end_of_day(cal.add_working_days(d, days))

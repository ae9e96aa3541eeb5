"""Supervision's domain rules: the legal clock on each stage of a case.

Limits are the defaults of DOMAIN.md (信访工作条例 2022, 信访条例 2005), configurable. The
platform sets two clocks at registration: assignment (15 days, Art. 22) and handling (60 days,
Art. 33). Handling runs from acceptance by law; until acceptance is recorded it is provisional
from receipt, and the intake / supervision issues re-base it on CaseAccepted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

from xinfang.contracts.events import DeadlineSet


class DeadlineRules(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XINFANG_LIMIT_", extra="ignore")

    assignment_days: int = 15   # 信访工作条例 (2022) 第二十二条
    handling_days: int = 60     # 信访条例 (2005) 第三十三条


@dataclass(frozen=True)
class Clock:
    stage: str
    starts_at: datetime
    limit_days: int
    basis: str

    @property
    def due_at(self) -> datetime:
        return self.starts_at + timedelta(days=self.limit_days)

    def event(self) -> DeadlineSet:
        return DeadlineSet(stage=self.stage, starts_at=self.starts_at, due_at=self.due_at,  # type: ignore[arg-type]
                           limit_days=self.limit_days, day_kind="calendar", basis=self.basis)


def clocks_at_registration(received_at: datetime, rules: DeadlineRules) -> list[Clock]:
    return [
        Clock("assignment", received_at, rules.assignment_days, "received_at"),
        Clock("handling", received_at, rules.handling_days, "received_at (provisional until accepted)"),
    ]

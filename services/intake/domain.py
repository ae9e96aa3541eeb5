"""Intake's domain rules: the case (信访事项) as an aggregate that changes only by its events.

No I/O here. Commands are methods that check the rules and return new events; ``apply`` folds
an event into the state. Every rule with a number in it takes the number from ``IntakeRules``.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Callable
from datetime import datetime, timedelta, timezone

from xinfang.contracts import Envelope, registry
from xinfang.contracts.events import CaseRegistered, PetitionerRef
from xinfang.auth import Forbidden
from xinfang.errors import InvalidInput
from xinfang.privacy import mask_id, mask_phone, resident_id_valid
from xinfang.reference import category_leaf
from xinfang.security import Principal, division_level

REGISTERING_ROLES = frozenset({"clerk", "dispatcher", "admin"})
TRACKING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


@dataclass(frozen=True)
class IntakeRules:
    max_representatives: int = 5          # 信访工作条例: collective visits elect at most 5
    clock_skew: timedelta = timedelta(minutes=5)  # tolerance for "not in the future"


def new_tracking_code() -> str:
    """12 random characters from a 31-letter alphabet (~59 bits): not guessable."""
    body = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(12))
    return f"{body[:4]}-{body[4:8]}-{body[8:]}"


@dataclass
class PetitionerDetails:
    """A petitioner as the clerk typed them; only intake's store ever holds these in clear
    (encrypted)."""

    petitioner_id: str
    name: str
    id_type: str
    id_number: str
    phone: str | None
    address: str


@dataclass
class Registration:
    channel: str
    received_at: datetime
    petitioners: list[PetitionerDetails]
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
    if reg.headcount < len(reg.petitioners):
        raise InvalidInput("headcount is smaller than the number of petitioners named",
                           "涉及人数少于所列信访人数", field="headcount")


def flags_for(reg: Registration) -> list[str]:
    flags = ["first_petition"]  # repeat detection needs the petitioner index (intake issue)
    if reg.headcount >= 5:
        flags.append("collective")
    return flags


@dataclass
class Case:
    case_id: str
    version: int = 0
    status: str = "new"
    office: str | None = None
    registered: CaseRegistered | None = None
    registered_at: datetime | None = None
    unit_id: str | None = None
    history: list[Envelope] = field(default_factory=list)

    @classmethod
    def from_events(cls, case_id: str, events: list[Envelope]) -> "Case":
        case = cls(case_id)
        for e in events:
            case.apply(e)
        return case

    def apply(self, env: Envelope) -> None:
        payload = registry.payload(env)
        if isinstance(payload, CaseRegistered):
            self.status = "registered"
            self.office = env.office
            self.registered = payload
            self.registered_at = env.recorded_at
        self.version = env.stream_version or self.version + 1
        self.history.append(env)


def register(case_id: str, reg: Registration, tracking_code: str, *, actor: Principal,
             known_division: Callable[[str], bool], now: datetime | None = None) -> tuple[CaseRegistered, str]:
    """Decide the registration: returns the event payload and the office (jurisdiction)."""
    now = now or datetime.now(timezone.utc)
    if actor.role not in REGISTERING_ROLES:
        raise Forbidden(f"role {actor.role} does not register petitions", "当前角色无权登记信访事项")
    validate_registration(reg, now, known_division)
    if not actor.in_jurisdiction(reg.division_code):
        raise Forbidden("division_code lies outside your jurisdiction", "问题发生地不在您的管辖范围内",
                        field="division_code")
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
        flags=flags_for(reg),
    )
    return payload, jurisdiction_of(reg.division_code)

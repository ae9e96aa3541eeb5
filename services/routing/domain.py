"""Routing's domain rules: which unit must handle a case (属地管理、分级负责；谁主管、谁负责),
when the joint-conference office leads instead (三跨三分离), what the unit may do with it (签收、异议),
who may own it (包案), who may do what, and what a valid organisation and staff account look like.

No I/O here. Routing rules are data (``Rule``); ``choose_unit`` applies them with precedence;
``Assignment`` is a case as routing sees it, folded from routing's own events, whose commands
check the rules and return new events. What the organisation holds comes in through ``Directory``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from xinfang.aggregate import Aggregate
from xinfang.contracts import Envelope
from xinfang.contracts.events import CaseAssigned, CaseObjected, CaseOwnedByLeader, CaseSignedFor
from xinfang.errors import Conflict, Forbidden, InvalidInput
from xinfang.security import ROLES, Principal, division_level, division_prefix, require_role
from xinfang.workdays import WorkCalendar, local_date


class RoutingRules(BaseSettings):
    """Every number a routing rule uses, with the legal value as default."""

    model_config = SettingsConfigDict(env_prefix="XINFANG_ROUTING_", extra="ignore")

    objection_window_working_days: int = 5   # a unit objects within 5 working days of the assignment
    clock_skew_minutes: int = 5              # tolerance for "not in the future"


@dataclass(frozen=True)
class UnitInfo:
    unit_id: str
    kind: str
    division_code: str
    active: bool = True


@dataclass(frozen=True)
class Decision:
    unit_id: str | None          # None: nobody found, the case waits in the dispatcher's queue
    rule: str                    # readable: which rule (or fallback) chose the unit, or why none
    rule_id: str | None = None


class Directory(Protocol):
    """What routing knows of the organisation (its own projection)."""

    def unit_of_kind(self, kind: str, division_code: str) -> str | None: ...

    def division_exists(self, code: str) -> bool: ...

    def unit_exists(self, unit_id: str) -> bool: ...

    def unit(self, unit_id: str) -> UnitInfo | None: ...


# ------------------------------------------------------------------ who sees which cases

# Role sets below are tuples, not sets: a refusal names the roles in their order.

# A unit's own staff: they see their unit's cases, where everyone else sees their jurisdiction's.
# Signing for and objecting to a case are not a role's: ``Assignment`` checks the unit.
UNIT_ROLE = "handler"


def may_see(user: Principal, office: str, unit_id: str | None, co_unit_ids: Sequence[str]) -> bool:
    """A unit's staff see the cases their unit leads or helps with; anyone else, those of their jurisdiction."""
    if user.role == UNIT_ROLE:
        return user.unit_id is not None and (user.unit_id == unit_id or user.unit_id in co_unit_ids)
    return user.in_jurisdiction(office)


def may_read_inbox(user: Principal, unit: UnitInfo | None) -> bool:
    """A unit's staff read their own unit's inbox; anyone else, a unit of their jurisdiction or their own."""
    if unit is None:
        return False
    if user.role == UNIT_ROLE:
        return user.unit_id == unit.unit_id
    return user.in_jurisdiction(unit.division_code) or user.unit_id == unit.unit_id


# ------------------------------------------------------------------ routing rules


@dataclass(frozen=True)
class Rule:
    """Cases that arose under ``division_prefix`` with a category under ``category_prefix``
    (empty: any category) go to ``unit_id``."""

    rule_id: str
    division_prefix: str
    category_prefix: str
    unit_id: str
    note: str | None = None

    def matches(self, division_code: str, category_code: str) -> bool:
        return division_code.startswith(self.division_prefix) and category_code.startswith(self.category_prefix)

    @property
    def specificity(self) -> tuple[int, int]:
        """The longest division prefix wins, then the longest category prefix."""
        return len(self.division_prefix), len(self.category_prefix)

    def describe(self) -> str:
        cat = self.category_prefix or "any category"
        note = f" ({self.note})" if self.note else ""
        return f"rule {self.rule_id}: division {self.division_prefix}* × category {cat} → {self.unit_id}{note}"


def ancestors(division_code: str) -> list[str]:
    """The division itself, then each level above it up to the province."""
    p = division_prefix(division_code)
    out = [division_code]
    for keep in (9, 6, 4, 2):
        if len(p) > keep:
            code = p[:keep].ljust(12, "0")
            if code not in out:
                out.append(code)
    return out


def fallback(division_code: str, directory: Directory) -> Decision:
    """The petition office of the division or of its nearest ancestor that has one."""
    for code in ancestors(division_code):
        office = directory.unit_of_kind("petition_office", code)
        if office is not None:
            return Decision(office, f"fallback: petition office of {code}")
    return Decision(None, f"no rule and no petition office for {division_code}")


NO_RULE = "no_rule"


def no_rule(division_code: str, category_code: str) -> str:
    """Why a new case waits in the dispatcher's queue: no routing rule names a unit for it."""
    return f"{NO_RULE}: no routing rule matches division {division_code} × category {category_code}"


def choose_unit(division_code: str, category_code: str, rules: Iterable[Rule], directory: Directory,
                exclude: str | None = None) -> Decision:
    """The most specific matching rule whose unit is active; else the fallback."""
    for rule in sorted((r for r in rules if r.matches(division_code, category_code)),
                       key=lambda r: r.specificity, reverse=True):
        unit = directory.unit(rule.unit_id)
        if unit is not None and unit.active and rule.unit_id != exclude:
            return Decision(rule.unit_id, rule.describe(), rule.rule_id)
    d = fallback(division_code, directory)
    return d if d.unit_id != exclude else Decision(None, f"{d.rule}, which objected")


def active_unit(unit_id: str, directory: Directory, field: str) -> UnitInfo:
    """The unit, if it exists and is active; else refused, naming ``field``."""
    unit = directory.unit(unit_id)
    if unit is None or not unit.active:
        raise InvalidInput(f"unit {unit_id} does not exist or is inactive", f"单位 {unit_id} 不存在或已停用",
                           field=field)
    return unit


def check_new_rule(rule: Rule, active: Iterable[Rule], directory: Directory) -> None:
    from xinfang.reference import category_leaf

    p = rule.division_prefix
    if not (p.isdigit() and len(p) in (6, 9, 12)) or not directory.division_exists(p.ljust(12, "0")):
        raise InvalidInput("division_prefix must be the prefix of a known county, township or village "
                           "(6, 9 or 12 digits)", "区划前缀须为已有县、乡镇或村的代码前缀（6、9 或 12 位）",
                           field="division_prefix")
    c = rule.category_prefix
    from xinfang.reference import CATEGORIES

    if c and not (len(c) == 2 and any(t["code"] == c for t in CATEGORIES) or len(c) == 4 and category_leaf(c)):
        raise InvalidInput("category_prefix must be empty, a first-level or a second-level category code",
                           "分类前缀须为空、一级或二级分类代码", field="category_prefix")
    unit = active_unit(rule.unit_id, directory, "unit_id")
    if unit.division_code[:6] != p[:6]:
        raise InvalidInput("the unit must belong to the rule's county", "承办单位须属于规则所在县",
                           field="unit_id")
    for other in active:
        if (other.division_prefix, other.category_prefix) == (p, c):
            raise Conflict(f"rule {other.rule_id} already routes {p}* × {c or 'any'}; retire it first",
                           f"规则 {other.rule_id} 已覆盖该区划和分类，请先停用", field="category_prefix",
                           rule="one_rule_per_division_and_category")


# ------------------------------------------------------------------ review routing (分级负责)


def level_above(division_code: str) -> str | None:
    """The division one administrative level above a unit's division (township → county …)."""
    level = division_level(division_code)
    keep = {"village": 6, "township": 6, "county": 4, "city": 2}.get(level)
    return division_code[:keep].ljust(12, "0") if keep else None


def review_office(replying_unit: UnitInfo | None, stage: str, directory: Directory) -> Decision:
    """A review (复查) or re-review (复核) goes to the petition office of the level above the
    unit that replied (分级负责)."""
    if replying_unit is None:
        return Decision(None, f"{stage}: the unit that replied is unknown")
    above = level_above(replying_unit.division_code)
    if above is None:
        return Decision(None, f"{stage}: no level above {replying_unit.division_code}")
    office = directory.unit_of_kind("petition_office", above)
    if office is None:
        return Decision(None, f"{stage}: no petition office known at {above}, the level above {replying_unit.unit_id}")
    return Decision(office, f"{stage}: petition office of {above}, the level above {replying_unit.unit_id}")


# ------------------------------------------------------------------ the dispatcher's choice and 三跨三分离

ASSIGNING_ROLES = ("dispatcher", "admin")        # 交办、转送、改派 by hand
QUEUE_ROLES = ("dispatcher", "admin", "leader")  # the cases nobody holds, each with a suggested unit
CROSS_RULE = "cross_region_or_department"


def spans_regions_or_departments(lead: UnitInfo, co: list[UnitInfo]) -> bool:
    """三跨三分离: the handling units lie in more than one division or are more than one department."""
    units = [lead, *co]
    return bool(co) and (len({u.division_code for u in units}) > 1 or sum(u.kind == "department" for u in units) > 1)


def county_of(division_code: str) -> str:
    return division_code[:6] + "000000"


@dataclass(frozen=True)
class Handling:
    """Who handles a case: the lead unit (主办), the units asked to help (协办), and the rule that
    chose the lead when the dispatcher's choice did not stand."""

    unit_id: str
    co_unit_ids: tuple[str, ...] = ()
    rule: str | None = None


def handling_units(unit_id: str, co_unit_ids: Sequence[str], case_division: str, directory: Directory) -> Handling:
    """The units a dispatcher names, each of them active, with 三跨三分离 applied."""
    lead = active_unit(unit_id, directory, "unit_id")
    co = [active_unit(u, directory, "co_unit_ids") for u in co_unit_ids]
    return cross_region_lead(lead, co, case_division, directory)


def cross_region_lead(lead: UnitInfo, co: Sequence[UnitInfo], case_division: str, directory: Directory) -> Handling:
    """三跨三分离: units in more than one division, or more than one department, are led by the
    joint-conference office of the case's county, and all of them help. A county without such an
    office keeps the dispatcher's lead."""
    named = [lead.unit_id, *(u.unit_id for u in co)]
    if spans_regions_or_departments(lead, list(co)):
        office = directory.unit_of_kind("joint_conference_office", county_of(case_division))
        if office is not None:
            return Handling(office, tuple(u for u in named if u != office),
                            f"{CROSS_RULE}: the handling units span more than one division or department; "
                            f"the joint-conference office {office} leads (三跨三分离)")
    return Handling(lead.unit_id, tuple(named[1:]))


# ------------------------------------------------------------------ who may own a case (包案)

OWNER_ROLE = "leader"                                                 # who may own a case
OWNERSHIP_ROLES = ("leader", "dispatcher", "admin")                   # a leader for themself, the others naming one
OWNED_CASES_ROLES = ("leader", "supervisor", "dispatcher", "admin")  # who may list a leader's cases


@dataclass(frozen=True)
class Account:
    """A member of staff as the rules see them."""

    username: str
    role: str
    jurisdiction: str
    active: bool = True


def check_may_record_ownership(user: Principal, leader: str) -> None:
    """包案 is recorded by a leader for themself, or by a dispatcher or admin naming the leader."""
    require_role(user, *OWNERSHIP_ROLES)
    if user.role == OWNER_ROLE and leader != user.username:
        raise InvalidInput("a leader takes a case for themself", "领导只能本人包案", field="leader")


def check_may_own(leader: str, account: Account | None, office: str) -> None:
    """Only an active leader whose jurisdiction covers the case's office may own it (``account``:
    the leader's, None when there is no such account)."""
    if account is None or not account.active or account.role != OWNER_ROLE or \
            not office.startswith(division_prefix(account.jurisdiction)):
        raise InvalidInput(f"{leader} is not an active leader with jurisdiction over the case",
                           f"{leader} 不是对该事项有管辖权的在职领导", field="leader")


def owned_cases_leader(user: Principal, leader: str | None) -> str:
    """Whose owned cases ``user`` may list: a leader their own; a supervisor, dispatcher or admin
    the leader they name."""
    require_role(user, *OWNED_CASES_ROLES)
    if user.role == OWNER_ROLE:
        if leader not in (None, "", user.username):
            raise Forbidden("a leader sees the cases they own, not another leader's",
                            "领导只能查看本人包案的事项")
        return user.username
    if not leader:
        raise InvalidInput("leader: required (the leader whose cases to list)", "leader：必填（要查看的包案领导）",
                           field="leader")
    return leader


# ------------------------------------------------------------------ the case as routing sees it


def check_after_row(at: datetime, since: datetime | None) -> None:
    """Not before the step the case's row last heard of (``state_since``): its registration, a
    review request, routing's own last step. The first assignment by hand is routing's first
    event of the case, so its own events alone would not know the registration."""
    if since is not None and at < since:
        raise InvalidInput(f"occurred_at is before the case's previous step ({since.isoformat()})",
                           "发生时间不能早于上一步骤", field="occurred_at")


@dataclass
class Assignment(Aggregate):
    case_id: str
    unit_id: str | None = None
    co_unit_ids: list[str] = field(default_factory=list)
    state: str = "unassigned"          # unassigned | to_sign | signed | objected
    stage: str = "handling"
    assigned_at: datetime | None = None
    owner_leader: str | None = None
    last_at: datetime | None = None
    version: int = 0

    def when(self, event: BaseModel, env: Envelope) -> None:
        at = env.occurred_at
        match event:
            case CaseAssigned():
                self.unit_id, self.co_unit_ids, self.stage = event.unit_id, list(event.co_unit_ids), event.stage
                self.state, self.assigned_at = "to_sign", at
            case CaseSignedFor():
                self.state = "signed"
            case CaseObjected():
                self.state = "objected"
            case CaseOwnedByLeader():
                self.owner_leader = event.leader
        self.last_at = max(self.last_at or at, at)

    # ---- checks

    def check_time(self, at: datetime, now: datetime, rules: RoutingRules) -> None:
        if at > now + timedelta(minutes=rules.clock_skew_minutes):
            raise InvalidInput("occurred_at lies in the future", "发生时间不能晚于当前时间", field="occurred_at")
        if self.last_at and at < self.last_at:
            raise InvalidInput(f"occurred_at is before the previous step ({self.last_at.isoformat()})",
                               "发生时间不能早于上一步骤", field="occurred_at")

    def _only_the_unit(self, unit_id: str | None, act: str, act_zh: str) -> str:
        """The assigned unit, if ``unit_id`` is it; else refused."""
        if self.unit_id is None or unit_id != self.unit_id:
            raise Conflict(f"only the assigned unit ({self.unit_id}) may {act}",
                           f"只有本事项的承办单位可以{act_zh}", rule="assigned_unit_only")
        return self.unit_id

    def objection_deadline(self, calendar: WorkCalendar, rules: RoutingRules) -> date:
        assert self.assigned_at is not None
        return calendar.add_working_days(local_date(self.assigned_at), rules.objection_window_working_days)

    # ---- commands

    def sign(self, unit_id: str | None) -> CaseSignedFor:
        unit = self._only_the_unit(unit_id, "sign for the case", "签收")
        if self.state != "to_sign":
            raise Conflict(f"the case is {self.state}; a unit signs for it once, after it is assigned",
                           "该事项已签收或不在待签收状态，不能重复签收", rule="sign_once")
        return CaseSignedFor(unit_id=unit)

    def object(self, unit_id: str | None, reason: str, at: datetime, calendar: WorkCalendar,
               rules: RoutingRules) -> CaseObjected:
        unit = self._only_the_unit(unit_id, "object to the assignment", "提出异议")
        if self.state not in ("to_sign", "signed"):
            raise Conflict(f"the case is {self.state}; there is no assignment to object to",
                           "该事项当前没有可提出异议的交办", rule="objection_state")
        last = self.objection_deadline(calendar, rules)
        if local_date(at) > last:
            n = rules.objection_window_working_days
            raise Conflict(f"an objection must be filed within {n} working days of the assignment "
                           f"(by {last.isoformat()})",
                           f"异议须在交办之日起 {n} 个工作日内提出（截至 {last.year}年{last.month}月{last.day}日）",
                           rule="objection_window")
        if not reason.strip():
            raise InvalidInput("an objection needs its reasons", "异议须说明理由", field="reason")
        return CaseObjected(unit_id=unit, reason=reason)

    def reassign(self, unit_id: str, *, reason: str | None, mode: str = "assign", co_unit_ids: Sequence[str] = (),
                 stage: str | None = None, rule: str | None = None) -> CaseAssigned:
        co = list(co_unit_ids)
        if unit_id in co or len(set(co)) != len(co):
            raise InvalidInput("co-handling units must differ from the lead unit and from each other",
                               "协办单位不能与主办单位相同，也不能重复", field="co_unit_ids")
        if (unit_id, co) == (self.unit_id, self.co_unit_ids) and self.state in ("to_sign", "signed"):
            raise Conflict(f"the case is already assigned to {unit_id}", "该事项已交办给该单位，无需重复交办",
                           rule="already_assigned")
        return CaseAssigned(unit_id=unit_id, mode=mode, rule=rule, reason=reason,  # type: ignore[arg-type]
                            previous_unit_id=self.unit_id, co_unit_ids=co,
                            stage=stage or self.stage)  # type: ignore[arg-type]

    def take_ownership(self, leader: str, note: str | None) -> CaseOwnedByLeader:
        if self.owner_leader == leader:
            raise Conflict(f"{leader} already owns the case", "该领导已包案", rule="already_owned")
        return CaseOwnedByLeader(leader=leader, note=note)


def inbox_state(state: str, stage: str, intake_state: str) -> str | None:
    """Where a case sits in its lead unit's inbox; None once it has left it."""
    if state in ("objected", "to_sign"):
        return state
    if state != "signed" or intake_state == "done":
        return None
    if stage == "handling" and intake_state == "open":
        return "to_accept"
    return "in_hand"


# ------------------------------------------------------------------ the organisation

ORGANISATION_ROLES = ("admin",)  # who adds divisions and units and adds or retires routing rules
LEVEL_PARENT = {"city": "province", "county": "city", "township": "county", "village": "township"}


def check_new_division(code: str, level: str, parent: str | None, directory: Directory) -> None:
    if directory.division_exists(code):
        raise Conflict(f"division {code} exists already", f"行政区划 {code} 已存在", field="code")
    if division_level(code) != level:
        raise InvalidInput(f"code {code} is not a {level} code", f"代码 {code} 不是{level}级代码", field="code")
    if level != "province":
        if not parent or not directory.division_exists(parent):
            raise InvalidInput("parent must be an existing division", "上级区划必须已存在", field="parent")
        if division_level(parent) != LEVEL_PARENT[level] or not code.startswith(division_prefix(parent)):
            raise InvalidInput(f"{parent} cannot be the parent of {code}", f"{parent} 不能作为 {code} 的上级",
                               field="parent")


def check_new_unit(unit_id: str, division_code: str, directory: Directory) -> None:
    if directory.unit_exists(unit_id):
        raise Conflict(f"unit {unit_id} exists already", f"单位 {unit_id} 已存在", field="unit_id")
    if not directory.division_exists(division_code):
        raise InvalidInput("division_code must be an existing division", "所属区划必须已存在",
                           field="division_code")


# ------------------------------------------------------------------ staff accounts

# No role manages accounts: the operator does, from the command line (xinfang users).
# A user's events are keyed "staff:<username>", within the stores' 64-character case ids.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,39}")
MIN_PASSWORD_LENGTH = 8


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                           f"密码至少 {MIN_PASSWORD_LENGTH} 位", field="password")


def check_new_account(username: str, password: str, role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", "角色不正确", field="role")
    if not USERNAME.fullmatch(username):
        raise InvalidInput("username: 2 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit",
                           "用户名：2 至 40 位字母、数字、“.”“_”“-”，以字母或数字开头", field="username")
    check_password(password)


def check_account_place(role: str, jurisdiction: str, unit_id: str | None, directory: Directory) -> None:
    """An account's jurisdiction is a known division; a handler belongs to a unit, which exists."""
    if not directory.division_exists(jurisdiction):
        raise InvalidInput(f"jurisdiction {jurisdiction} is not a known division", "管辖区划不存在",
                           field="jurisdiction")
    if role == UNIT_ROLE and not unit_id:
        raise InvalidInput("a handler belongs to a unit", "承办人必须属于某个单位", field="unit_id")
    if unit_id and not directory.unit_exists(unit_id):
        raise InvalidInput(f"unit {unit_id} does not exist", f"单位 {unit_id} 不存在", field="unit_id")

"""Routing's commands: the dispatcher's assignment, the unit's signing and objection, leader
ownership, and the organisation (divisions, units, routing rules).

Each command is a named object built by the API. Its handler loads what the rules need (a case's
routing events under a row lock on its read-model row), lets the domain decide, and appends the
new events, which are projected into the read models in the same transaction. A case command
answers the case's assignment as it now reads.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.routing import adapters, domain, views
from services.routing.adapters import SqlDirectory, org_stream
from services.routing.projections import append, append_org
from xinfang import business_time
from xinfang.business_time import BusinessTime
from xinfang.contracts.events import DivisionAdded, RoutingRuleAdded, RoutingRuleRetired, UnitAdded
from xinfang.errors import Conflict, InvalidInput, NotFound
from xinfang.security import Principal, require_role
from xinfang.storage import Database, UnitOfWork
from xinfang.workdays import WorkCalendar

RULES = domain.RoutingRules()
BACKDATING = business_time.BackdatingRules.from_settings()


# ------------------------------------------------------------------ the commands


@dataclass(frozen=True)
class AssignCase:
    """交办 (assign), 转送 (forward) or 改派 (reassign) by hand, with units asked to help (协办)."""

    case_id: str
    unit_id: str
    reason: str
    mode: str = "assign"
    co_unit_ids: tuple[str, ...] = ()
    occurred_at: datetime | None = None   # when it happened, if not now: a late record (补录)
    backdate_reason: str | None = None    # why it is recorded late (xinfang.business_time)


@dataclass(frozen=True)
class SignForCase:
    """签收: the assigned unit takes the case."""

    case_id: str
    occurred_at: datetime | None = None
    backdate_reason: str | None = None


@dataclass(frozen=True)
class ObjectToAssignment:
    """异议 / 退回: the assigned unit says the case is not its remit."""

    case_id: str
    reason: str
    occurred_at: datetime | None = None
    backdate_reason: str | None = None


@dataclass(frozen=True)
class TakeOwnership:
    """包案: a leader takes personal charge of the case."""

    case_id: str
    leader: str
    note: str | None = None


@dataclass(frozen=True)
class AddDivision:
    code: str
    name: str
    level: str
    parent: str | None = None


@dataclass(frozen=True)
class AddUnit:
    unit_id: str
    name: str
    kind: str
    division_code: str


@dataclass(frozen=True)
class AddRule:
    division_prefix: str
    category_prefix: str
    unit_id: str
    note: str | None = None


@dataclass(frozen=True)
class RetireRule:
    rule_id: str


# ------------------------------------------------------------------ a case's assignment


def _load(uow: UnitOfWork, user: Principal, case_id: str):
    row = adapters.assignment_row(uow.conn, case_id, lock=True)
    if row is None or not views.visible(user, row):
        raise views.not_found(case_id)
    return row, domain.Assignment.from_events(case_id, uow.load(case_id))


def _when(agg: domain.Assignment, row, user: Principal, cmd: AssignCase | SignForCase | ObjectToAssignment) -> BusinessTime:
    """The command's business time (``xinfang.business_time``): never before the case's previous
    step, routing's own or the one its row last heard (the registration, a review request), nor
    later than now; earlier than now only as a late record with its reason."""
    now = datetime.now(UTC)

    def previous_steps(at: datetime) -> None:
        agg.check_time(at, now, RULES)
        domain.check_after_row(at, row["state_since"])

    return business_time.decide(cmd.occurred_at, cmd.backdate_reason, now=now, entered_by=user.username,
                                may_correct=business_time.may_correct_records(user.role), rules=BACKDATING,
                                previous_steps=previous_steps)


def assign(db: Database, user: Principal, cmd: AssignCase) -> dict:
    """The dispatcher assigns (交办), forwards (转送) or reassigns (改派) by hand."""
    require_role(user, *domain.ASSIGNING_ROLES)
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, cmd.case_id)
        handling = domain.handling_units(cmd.unit_id, cmd.co_unit_ids, row["division_code"], SqlDirectory(uow.conn))
        when = _when(agg, row, user, cmd)
        event = agg.reassign(handling.unit_id, reason=cmd.reason, mode=cmd.mode, co_unit_ids=handling.co_unit_ids,
                             stage=row["stage"], rule=handling.rule)
        append(uow, cmd.case_id, row["office"], agg.version, when.mark(event), user.username, occurred_at=when.at)
    return views.get_assignment(db, user, cmd.case_id)


def sign(db: Database, user: Principal, cmd: SignForCase) -> dict:
    """签收: the assigned unit takes the case, once."""
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, cmd.case_id)
        when = _when(agg, row, user, cmd)
        append(uow, cmd.case_id, row["office"], agg.version, when.mark(agg.sign(user.unit_id)), user.username,
               occurred_at=when.at)
    return views.get_assignment(db, user, cmd.case_id)


def object_to(db: Database, user: Principal, cmd: ObjectToAssignment) -> dict:
    """异议 / 退回: not the unit's remit; within the window the case returns to the dispatcher."""
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, cmd.case_id)
        when = _when(agg, row, user, cmd)
        event = agg.object(user.unit_id, cmd.reason, when.at, WorkCalendar.shared(), RULES)
        append(uow, cmd.case_id, row["office"], agg.version, when.mark(event), user.username, occurred_at=when.at)
    return views.get_assignment(db, user, cmd.case_id)


def take_ownership(db: Database, user: Principal, cmd: TakeOwnership) -> dict:
    """包案: a leader takes personal charge (a leader for themself, or a dispatcher or admin naming one)."""
    domain.check_may_record_ownership(user, cmd.leader)
    with UnitOfWork(db) as uow:
        row, agg = _load(uow, user, cmd.case_id)
        domain.check_may_own(cmd.leader, adapters.account(uow.conn, cmd.leader), row["office"])
        event = agg.take_ownership(cmd.leader, cmd.note)
        append(uow, cmd.case_id, row["office"], agg.version, event, user.username)
    return views.get_assignment(db, user, cmd.case_id)


# ------------------------------------------------------------------ the organisation (its events)


def _admin_in(user: Principal, code: str, field: str) -> None:
    require_role(user, *domain.ORGANISATION_ROLES)
    if not user.in_jurisdiction(code):
        raise InvalidInput(f"{code} is outside your jurisdiction", f"{code} 不在您的管辖范围内", field=field)


def add_division(db: Database, user: Principal, cmd: AddDivision) -> dict:
    _admin_in(user, cmd.code, "code")
    with UnitOfWork(db) as uow:
        domain.check_new_division(cmd.code, cmd.level, cmd.parent, SqlDirectory(uow.conn))
        append_org(uow, org_stream(cmd.code),
                   [DivisionAdded(code=cmd.code, name=cmd.name, level=cmd.level, parent=cmd.parent)], user.username)
    return {"code": cmd.code, "name": cmd.name, "level": cmd.level, "parent": cmd.parent}


def add_unit(db: Database, user: Principal, cmd: AddUnit) -> dict:
    _admin_in(user, cmd.division_code, "division_code")
    with UnitOfWork(db) as uow:
        domain.check_new_unit(cmd.unit_id, cmd.division_code, SqlDirectory(uow.conn))
        append_org(uow, org_stream(cmd.division_code),
                   [UnitAdded(unit_id=cmd.unit_id, name=cmd.name, kind=cmd.kind, division_code=cmd.division_code)],
                   user.username)
    return {"unit_id": cmd.unit_id, "name": cmd.name, "kind": cmd.kind, "division_code": cmd.division_code,
            "active": True}


def add_rule(db: Database, user: Principal, cmd: AddRule) -> dict:
    prefix = cmd.division_prefix
    _admin_in(user, prefix.ljust(12, "0"), "division_prefix")
    if not prefix.startswith(user.prefix):
        raise InvalidInput(f"{prefix} is outside your jurisdiction", f"{prefix} 不在您的管辖范围内",
                           field="division_prefix")
    rule = domain.Rule(f"r-{uuid.uuid4().hex[:12]}", prefix, cmd.category_prefix, cmd.unit_id, cmd.note)
    with UnitOfWork(db) as uow:
        d = SqlDirectory(uow.conn)
        domain.check_new_rule(rule, d.active_rules(prefix), d)
        append_org(uow, org_stream(prefix.ljust(12, "0")), [RoutingRuleAdded(
            rule_id=rule.rule_id, division_prefix=prefix, category_prefix=cmd.category_prefix,
            unit_id=cmd.unit_id, note=cmd.note)], user.username)
        row = adapters.rule_row(uow.conn, rule.rule_id)
    return views.rule_view(row)


def retire_rule(db: Database, user: Principal, cmd: RetireRule) -> dict:
    require_role(user, *domain.ORGANISATION_ROLES)
    with UnitOfWork(db) as uow:
        row = adapters.rule_row(uow.conn, cmd.rule_id, lock=True)
        if row is None or not row["division_prefix"].startswith(user.prefix):
            raise NotFound(f"no rule {cmd.rule_id}", f"规则 {cmd.rule_id} 不存在")
        if not row["active"]:
            raise Conflict(f"rule {cmd.rule_id} is retired already", f"规则 {cmd.rule_id} 已停用",
                           rule="retired_once")
        append_org(uow, org_stream(row["division_prefix"].ljust(12, "0")), [RoutingRuleRetired(rule_id=cmd.rule_id)],
                   user.username)
        row = adapters.rule_row(uow.conn, cmd.rule_id)
    return views.rule_view(row)

"""Routing's organisation slice: divisions, units and routing rules as events, staff accounts,
the demo seed."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache

import sqlalchemy as sa

from services.routing import domain
from services.routing.adapters import divisions, rules, units, users
from xinfang import staff
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.contracts.events import (
    DivisionAdded,
    RoutingRuleAdded,
    RoutingRuleRetired,
    StaffAccessRevoked,
    UnitAdded,
    UnitUpdated,
)
from xinfang.errors import Conflict, InvalidInput, NotFound
from xinfang.reference import divisions as demo_divisions
from xinfang.reference import units as demo_units
from xinfang.security import ROLES, Principal, hash_password, verify_password
from xinfang.storage import Database, UnitOfWork

PRODUCER = "routing"
DEMO_PASSWORD = "xinfang-demo"
DEMO_COUNTY = "999901000000"
# (username, role, jurisdiction, unit, display name)
DEMO_USERS = [
    ("demo-admin", "admin", DEMO_COUNTY, "999901-xfj", "演示管理员"),
    ("demo-clerk", "clerk", DEMO_COUNTY, "999901-xfj", "演示登记员"),
    ("demo-dispatcher", "dispatcher", DEMO_COUNTY, "999901-xfj", "演示交办员"),
    ("demo-handler", "handler", DEMO_COUNTY, "999901-d02", "演示承办人（县人社局）"),
    ("demo-supervisor", "supervisor", DEMO_COUNTY, "999901-xfj", "演示督办员"),
    ("demo-leader", "leader", DEMO_COUNTY, "999901-xfj", "演示领导"),
    ("demo-township-clerk", "clerk", "999901001000", "999901001-gov", "演示登记员（城关镇）"),
]


def org_stream(code: str) -> str:
    return f"org:{code[:6]}"


class SqlDirectory:
    """domain.Directory over routing's projection tables, within one transaction."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def unit_of_kind(self, kind: str, division_code: str) -> str | None:
        return self.conn.execute(sa.select(units.c.unit_id).where(
            units.c.kind == kind, units.c.division_code == division_code, units.c.active.is_(True))
            .order_by(units.c.unit_id)).scalar()

    def division_exists(self, code: str) -> bool:
        return self.conn.execute(sa.select(divisions.c.code).where(divisions.c.code == code)).first() is not None

    def unit_exists(self, unit_id: str) -> bool:
        return self.conn.execute(sa.select(units.c.unit_id).where(units.c.unit_id == unit_id)).first() is not None

    def unit(self, unit_id: str) -> domain.UnitInfo | None:
        r = self.conn.execute(sa.select(units.c.unit_id, units.c.kind, units.c.division_code, units.c.active)
                              .where(units.c.unit_id == unit_id)).first()
        return domain.UnitInfo(r.unit_id, r.kind, r.division_code, r.active) if r else None

    def unit_name(self, unit_id: str | None) -> str | None:
        if unit_id is None:
            return None
        return self.conn.execute(sa.select(units.c.name).where(units.c.unit_id == unit_id)).scalar()

    def rules_matching(self, division_code: str, category_code: str) -> list[domain.Rule]:
        """Active rules whose prefixes match (precedence is the domain's)."""
        q = sa.select(rules).where(rules.c.active.is_(True),
                                   sa.literal(division_code).like(rules.c.division_prefix + "%"),
                                   sa.literal(category_code).like(rules.c.category_prefix + "%"))
        return [_rule(r) for r in self.conn.execute(q).mappings()]

    def active_rules(self, division_prefix: str) -> list[domain.Rule]:
        q = sa.select(rules).where(rules.c.active.is_(True), rules.c.division_prefix == division_prefix)
        return [_rule(r) for r in self.conn.execute(q).mappings()]


def _rule(r) -> domain.Rule:
    return domain.Rule(r["rule_id"], r["division_prefix"], r["category_prefix"], r["unit_id"], r["note"])


# ------------------------------------------------------------------ org events: append + project inline


def _apply_org(uow: UnitOfWork, env: Envelope) -> None:
    p = registry.payload(env)
    if isinstance(p, DivisionAdded):
        uow.execute(divisions.insert().values(code=p.code, name=p.name, level=p.level, parent=p.parent, demo=p.demo))
    elif isinstance(p, UnitAdded):
        uow.execute(units.insert().values(unit_id=p.unit_id, name=p.name, kind=p.kind,
                                          division_code=p.division_code, active=True, demo=p.demo))
    elif isinstance(p, UnitUpdated):
        values = {k: v for k, v in (("name", p.name), ("active", p.active)) if v is not None}
        if values:
            uow.execute(units.update().where(units.c.unit_id == p.unit_id).values(**values))
    elif isinstance(p, RoutingRuleAdded):
        uow.execute(rules.insert().values(
            rule_id=p.rule_id, division_prefix=p.division_prefix, category_prefix=p.category_prefix,
            unit_id=p.unit_id, note=p.note, active=True, added_at=env.occurred_at, added_by=env.actor,
            demo=env.actor == "system:demo-seed"))
    elif isinstance(p, RoutingRuleRetired):
        uow.execute(rules.update().where(rules.c.rule_id == p.rule_id)
                    .values(active=False, retired_at=env.occurred_at, retired_by=env.actor))


def _append_org(uow: UnitOfWork, stream: str, payloads: list, actor: str) -> None:
    envs = [new_envelope(p, case_id=stream, office=stream[4:10] + "000000", actor=actor, producer=PRODUCER)
            for p in payloads]
    for env in uow.append(stream, None, envs):
        _apply_org(uow, env)


def add_division(db: Database, user: Principal, code: str, name: str, level: str, parent: str | None) -> dict:
    _admin_in(user, code, "code")
    with UnitOfWork(db) as uow:
        domain.check_new_division(code, level, parent, SqlDirectory(uow.conn))
        _append_org(uow, org_stream(code), [DivisionAdded(code=code, name=name, level=level, parent=parent)],
                    user.username)
    return {"code": code, "name": name, "level": level, "parent": parent}


def add_unit(db: Database, user: Principal, unit_id: str, name: str, kind: str, division_code: str) -> dict:
    _admin_in(user, division_code, "division_code")
    with UnitOfWork(db) as uow:
        domain.check_new_unit(unit_id, division_code, SqlDirectory(uow.conn))
        _append_org(uow, org_stream(division_code),
                    [UnitAdded(unit_id=unit_id, name=name, kind=kind, division_code=division_code)], user.username)
    return {"unit_id": unit_id, "name": name, "kind": kind, "division_code": division_code, "active": True}


def _admin_in(user: Principal, code: str, field: str) -> None:
    from xinfang.auth import require_role

    require_role(user, "admin")
    if not user.in_jurisdiction(code):
        raise InvalidInput(f"{code} is outside your jurisdiction", f"{code} 不在您的管辖范围内", field=field)


# ------------------------------------------------------------------ routing rules (data, as events)


def _rule_view(r) -> dict:
    return {k: r[k] for k in ("rule_id", "division_prefix", "category_prefix", "unit_id", "note", "active",
                              "added_at", "added_by", "retired_at", "retired_by")} | {
        "rule": _rule(r).describe()}


def _rule_visible(user: Principal, division_prefix_: str) -> bool:
    """A rule concerns the caller if it lies in their jurisdiction or covers it."""
    return division_prefix_.startswith(user.prefix) or user.prefix.startswith(division_prefix_)


def list_rules(db: Database, user: Principal, include_retired: bool = False) -> list[dict]:
    q = sa.select(rules).order_by(rules.c.division_prefix, rules.c.category_prefix, rules.c.added_at)
    if not include_retired:
        q = q.where(rules.c.active.is_(True))
    with db.read() as c:
        return [_rule_view(r) for r in c.execute(q).mappings() if _rule_visible(user, r["division_prefix"])]


def add_rule(db: Database, user: Principal, division_prefix_: str, category_prefix: str, unit_id: str,
             note: str | None) -> dict:
    _admin_in(user, division_prefix_.ljust(12, "0"), "division_prefix")
    if not division_prefix_.startswith(user.prefix):
        raise InvalidInput(f"{division_prefix_} is outside your jurisdiction", f"{division_prefix_} 不在您的管辖范围内",
                           field="division_prefix")
    rule = domain.Rule(f"r-{uuid.uuid4().hex[:12]}", division_prefix_, category_prefix, unit_id, note)
    with UnitOfWork(db) as uow:
        d = SqlDirectory(uow.conn)
        domain.check_new_rule(rule, d.active_rules(division_prefix_), d)
        _append_org(uow, org_stream(division_prefix_.ljust(12, "0")), [RoutingRuleAdded(
            rule_id=rule.rule_id, division_prefix=division_prefix_, category_prefix=category_prefix,
            unit_id=unit_id, note=note)], user.username)
        row = uow.execute(sa.select(rules).where(rules.c.rule_id == rule.rule_id)).mappings().one()
    return _rule_view(row)


def retire_rule(db: Database, user: Principal, rule_id: str) -> dict:
    from xinfang.auth import require_role

    require_role(user, "admin")
    with UnitOfWork(db) as uow:
        row = uow.execute(sa.select(rules).where(rules.c.rule_id == rule_id).with_for_update()).mappings().first()
        if row is None or not row["division_prefix"].startswith(user.prefix):
            raise NotFound(f"no rule {rule_id}", f"规则 {rule_id} 不存在")
        if not row["active"]:
            raise Conflict(f"rule {rule_id} is retired already", f"规则 {rule_id} 已停用", rule="retired_once")
        _append_org(uow, org_stream(row["division_prefix"].ljust(12, "0")), [RoutingRuleRetired(rule_id=rule_id)],
                    user.username)
        row = uow.execute(sa.select(rules).where(rules.c.rule_id == rule_id)).mappings().one()
    return _rule_view(row)


def preview(db: Database, user: Principal, division_code: str, category_code: str) -> dict:
    """Which unit a case of this division and category would get now, and by which rule."""
    from xinfang.reference import category_leaf

    if not user.in_jurisdiction(division_code):
        raise InvalidInput(f"{division_code} is outside your jurisdiction", f"{division_code} 不在您的管辖范围内",
                           field="division_code")
    if category_leaf(category_code) is None:
        raise InvalidInput(f"unknown category {category_code}", f"分类代码 {category_code} 不存在", field="category_code")
    with db.read() as c:
        d = SqlDirectory(c)
        if not d.division_exists(division_code):
            raise InvalidInput(f"unknown division {division_code}", f"行政区划 {division_code} 不存在",
                               field="division_code")
        decision = domain.choose_unit(division_code, category_code, d.rules_matching(division_code, category_code), d)
        return {"unit_id": decision.unit_id, "unit_name": d.unit_name(decision.unit_id),
                "rule_id": decision.rule_id, "rule": decision.rule}


# Demo rules (示范县): land (国土资源), labour disputes (劳动和社会保障, first handled by the
# township's labour security station) and village affairs (村务管理) go to the township where
# they arose; county-level categories go to the county department in charge; anything else falls
# back to the county petition office.
DEMO_TOWNSHIP_CATEGORIES = [("05", "国土资源：属地乡镇政府"), ("07", "劳动和社会保障：乡镇劳动保障所先行处理"),
                            ("0901", "村务管理：属地乡镇政府")]
DEMO_COUNTY_CATEGORIES = [
    ("01", "d01", "政法：县公安局"), ("0104", "d14", "司法行政：县司法局"), ("03", "d20", "纪检监察：县纪委监委"),
    ("05", "d03", "国土资源：县自然资源局"), ("06", "d06", "教育文体：县教育局"), ("07", "d02", "劳动和社会保障：县人社局"),
    ("08", "d04", "城乡建设：县住建局"), ("0804", "d17", "城市管理：县城管局"), ("09", "d05", "农村农业：县农业农村局"),
    ("0905", "d13", "水利设施：县水利局"), ("10", "d07", "卫生计生：县卫健局"), ("1002", "d18", "医疗保障：县医保局"),
    ("11", "d08", "环境保护：县生态环境局"), ("12", "d09", "交通运输：县交通运输局"), ("13", "d10", "民政：县民政局"),
    ("1302", "d15", "优抚安置：县退役军人事务局"), ("14", "d11", "经济管理：县市场监管局"), ("15", "d19", "商贸旅游：县商务局"),
]


def demo_rules() -> list[RoutingRuleAdded]:
    county = DEMO_COUNTY[:6]
    out = [RoutingRuleAdded(rule_id=f"demo-{county}-{cat}", division_prefix=county, category_prefix=cat,
                            unit_id=f"{county}-{unit}", note=note) for cat, unit, note in DEMO_COUNTY_CATEGORIES]
    for t in range(1, 11):
        township = f"{county}{t:03d}"
        out += [RoutingRuleAdded(rule_id=f"demo-{township}-{cat}", division_prefix=township, category_prefix=cat,
                                 unit_id=f"{township}-gov", note=note) for cat, note in DEMO_TOWNSHIP_CATEGORIES]
    return out


def list_divisions(db: Database, user: Principal) -> list[dict]:
    with db.read() as c:
        rows = c.execute(sa.select(divisions).where(divisions.c.code.startswith(user.prefix))
                         .order_by(divisions.c.code)).mappings().all()
    return [dict(r) for r in rows]


def list_units(db: Database, user: Principal) -> list[dict]:
    q = sa.select(units).order_by(units.c.unit_id)
    if user.role == "handler":
        q = q.where(units.c.unit_id == user.unit_id)
    else:
        q = q.where(units.c.division_code.startswith(user.prefix))
    with db.read() as c:
        return [dict(r) for r in c.execute(q).mappings().all()]


def seed_demo(db: Database) -> bool:
    """Record the DEMO county as events, and its demo users, unless they are there already."""
    stream = org_stream(DEMO_COUNTY)
    with UnitOfWork(db) as uow:
        seeded = uow.stream_version(stream) > 0
        if not seeded:
            payloads = [DivisionAdded(code=d.code, name=d.name, level=d.level, parent=d.parent, demo=True)
                        for d in demo_divisions()]
            payloads += [UnitAdded(unit_id=u.unit_id, name=u.name, kind=u.kind, division_code=u.division_code, demo=True)
                         for u in demo_units()]
            _append_org(uow, stream, payloads, "system:demo-seed")
        known = set(uow.execute(sa.select(rules.c.rule_id).where(rules.c.rule_id.like("demo-%"))).scalars())
        missing = [r for r in demo_rules() if r.rule_id not in known]  # a retired demo rule stays retired
        if missing:
            _append_org(uow, stream, missing, "system:demo-seed")
    for username, role, jurisdiction, unit, display in DEMO_USERS:
        try:
            create_user(db, username, DEMO_PASSWORD, role, jurisdiction, unit, display)
        except Conflict:
            pass
    return not seeded


# ------------------------------------------------------------------ users


def create_user(db: Database, username: str, password: str, role: str, jurisdiction: str,
                unit_id: str | None = None, display_name: str | None = None) -> dict:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", "角色不正确", field="role")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,39}", username):
        # its events are keyed "staff:<username>", within the stores' 64-character case ids
        raise InvalidInput("username: 2 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit",
                           "用户名：2 至 40 位字母、数字、“.”“_”“-”，以字母或数字开头", field="username")
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", "密码至少 8 位", field="password")
    with UnitOfWork(db) as uow:
        d = SqlDirectory(uow.conn)
        if not d.division_exists(jurisdiction):
            raise InvalidInput(f"jurisdiction {jurisdiction} is not a known division", "管辖区划不存在",
                               field="jurisdiction")
        if role == "handler" and not unit_id:
            raise InvalidInput("a handler belongs to a unit", "承办人必须属于某个单位", field="unit_id")
        if unit_id and not d.unit_exists(unit_id):
            raise InvalidInput(f"unit {unit_id} does not exist", f"单位 {unit_id} 不存在", field="unit_id")
        if uow.execute(sa.select(users.c.username).where(users.c.username == username)).first():
            raise Conflict(f"user {username} exists already", f"用户 {username} 已存在", field="username")
        uow.execute(users.insert().values(
            username=username, display_name=display_name, password_hash=hash_password(password), role=role,
            jurisdiction=jurisdiction, unit_id=unit_id, active=True, created_at=datetime.now(UTC)))
    return {"username": username, "role": role, "jurisdiction": jurisdiction, "unit_id": unit_id}


def principal_of(db: Database, username: str) -> Principal:
    with db.read() as c:
        row = c.execute(sa.select(users).where(users.c.username == username)).mappings().first()
    if row is None or not row["active"]:
        raise NotFound(f"no active user {username}", f"用户 {username} 不存在或已停用")
    return _principal(row)


def authenticate(db: Database, username: str, password: str) -> Principal | None:
    with db.read() as c:
        row = c.execute(sa.select(users).where(users.c.username == username)).mappings().first()
    if row is None:
        verify_password(_dummy_hash(), password)  # same cost whether or not the user exists
        return None
    if not row["active"] or not verify_password(row["password_hash"], password):
        return None
    return _principal(row)


def _principal(row) -> Principal:
    return Principal(username=row["username"], role=row["role"], jurisdiction=row["jurisdiction"],
                     unit_id=row["unit_id"], display_name=row["display_name"])


def list_users(db: Database) -> list[dict]:
    with db.read() as c:
        return [{k: r[k] for k in ("username", "display_name", "role", "jurisdiction", "unit_id", "active")}
                for r in c.execute(sa.select(users).order_by(users.c.username)).mappings()]


def _change_user(uow: UnitOfWork, username: str, **values) -> None:
    if uow.execute(users.update().where(users.c.username == username).values(**values)).rowcount == 0:
        raise NotFound(f"no user {username}", f"用户 {username} 不存在")


def _revoke(uow: UnitOfWork, username: str, reason: str, actor: str) -> None:
    """The user's tokens stop working: recorded here and published to every service
    (StaffAccessRevoked, xinfang.staff), in the transaction that changed the account."""
    row = uow.execute(sa.select(users.c.jurisdiction).where(users.c.username == username)).first()
    env = new_envelope(StaffAccessRevoked(username=username, reason=reason), case_id=f"staff:{username}",
                       office=row.jurisdiction, actor=actor, producer=PRODUCER)
    [stored] = uow.append(env.case_id, None, [env])
    staff.record(uow.conn, username, stored.occurred_at)


def set_password(db: Database, username: str, password: str, actor: str = "system:cli") -> None:
    """A new password; the tokens issued before it stop working everywhere."""
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", "密码至少 8 位", field="password")
    with UnitOfWork(db) as uow:
        _change_user(uow, username, password_hash=hash_password(password))
        _revoke(uow, username, "password_changed", actor)


def set_active(db: Database, username: str, active: bool, actor: str = "system:cli") -> None:
    """Enable or disable an account; disabling stops its tokens working everywhere at once."""
    with UnitOfWork(db) as uow:
        _change_user(uow, username, active=active)
        if not active:
            _revoke(uow, username, "disabled", actor)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("timing-equaliser")

"""Routing's organisation slice: divisions and units as events, staff accounts, the demo seed."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

import sqlalchemy as sa

from services.routing import domain
from services.routing.adapters import divisions, units, users
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.contracts.events import DivisionAdded, UnitAdded, UnitUpdated
from xinfang.errors import Conflict, InvalidInput, NotFound
from xinfang.reference import divisions as demo_divisions, units as demo_units
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


def _append_org(uow: UnitOfWork, stream: str, payloads: list, actor: str) -> None:
    envs = [new_envelope(p, case_id=stream, office=stream[4:10] + "000000", actor=actor, producer=PRODUCER)
            for p in payloads]
    for env in uow.append(stream, uow.stream_version(stream), envs):
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


def list_divisions(db: Database, user: Principal) -> list[dict]:
    with db.engine.connect() as c:
        rows = c.execute(sa.select(divisions).where(divisions.c.code.startswith(user.prefix))
                         .order_by(divisions.c.code)).mappings().all()
    return [dict(r) for r in rows]


def list_units(db: Database, user: Principal) -> list[dict]:
    q = sa.select(units).order_by(units.c.unit_id)
    if user.role == "handler":
        q = q.where(units.c.unit_id == user.unit_id)
    else:
        q = q.where(units.c.division_code.startswith(user.prefix))
    with db.engine.connect() as c:
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
            jurisdiction=jurisdiction, unit_id=unit_id, active=True, created_at=datetime.now(timezone.utc)))
    return {"username": username, "role": role, "jurisdiction": jurisdiction, "unit_id": unit_id}


def principal_of(db: Database, username: str) -> Principal:
    with db.engine.connect() as c:
        row = c.execute(sa.select(users).where(users.c.username == username)).mappings().first()
    if row is None or not row["active"]:
        raise NotFound(f"no active user {username}", f"用户 {username} 不存在或已停用")
    return _principal(row)


def authenticate(db: Database, username: str, password: str) -> Principal | None:
    with db.engine.connect() as c:
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
    with db.engine.connect() as c:
        return [{k: r[k] for k in ("username", "display_name", "role", "jurisdiction", "unit_id", "active")}
                for r in c.execute(sa.select(users).order_by(users.c.username)).mappings()]


def set_password(db: Database, username: str, password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", "密码至少 8 位", field="password")
    with db.engine.begin() as c:
        if c.execute(users.update().where(users.c.username == username)
                     .values(password_hash=hash_password(password))).rowcount == 0:
            raise NotFound(f"no user {username}", f"用户 {username} 不存在")


def set_active(db: Database, username: str, active: bool) -> None:
    with db.engine.begin() as c:
        if c.execute(users.update().where(users.c.username == username).values(active=active)).rowcount == 0:
            raise NotFound(f"no user {username}", f"用户 {username} 不存在")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("timing-equaliser")

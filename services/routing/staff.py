"""Staff accounts, which routing keeps: create, change password, enable or disable, list, sign in.

Accounts are state, not events (a password hash never travels on Kafka); only the end of a
user's tokens is published, as StaffAccessRevoked, in the transaction that changed the account.
"""
from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from services.routing import adapters, domain
from services.routing.adapters import SqlDirectory
from xinfang.contracts import new_envelope
from xinfang.contracts.events import StaffAccessRevoked
from xinfang.errors import Conflict, NotFound
from xinfang.security import Principal, hash_password, verify_password
from xinfang.staff import record as record_revocation
from xinfang.storage import Database, UnitOfWork

PRODUCER = "routing"


def create_user(db: Database, username: str, password: str, role: str, jurisdiction: str,
                unit_id: str | None = None, display_name: str | None = None) -> dict:
    domain.check_new_account(username, password, role)
    with UnitOfWork(db) as uow:
        domain.check_account_place(role, jurisdiction, unit_id, SqlDirectory(uow.conn))
        if adapters.user_exists(uow.conn, username):
            raise Conflict(f"user {username} exists already", f"用户 {username} 已存在", field="username")
        adapters.insert_user(uow.conn, username=username, display_name=display_name,
                             password_hash=hash_password(password), role=role, jurisdiction=jurisdiction,
                             unit_id=unit_id, active=True, created_at=datetime.now(UTC))
    return {"username": username, "role": role, "jurisdiction": jurisdiction, "unit_id": unit_id}


def principal_of(db: Database, username: str) -> Principal:
    with db.read() as c:
        row = adapters.user_row(c, username)
    if row is None or not row["active"]:
        raise NotFound(f"no active user {username}", f"用户 {username} 不存在或已停用")
    return _principal(row)


def authenticate(db: Database, username: str, password: str) -> Principal | None:
    with db.read() as c:
        row = adapters.user_row(c, username)
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
                for r in adapters.all_users(c)]


def _change_user(uow: UnitOfWork, username: str, **values) -> None:
    if not adapters.update_user(uow.conn, username, **values):
        raise NotFound(f"no user {username}", f"用户 {username} 不存在")


def _revoke(uow: UnitOfWork, username: str, reason: str, actor: str) -> None:
    """The user's tokens stop working: recorded here and published to every service
    (StaffAccessRevoked, xinfang.staff), in the transaction that changed the account."""
    env = new_envelope(StaffAccessRevoked(username=username, reason=reason), case_id=f"staff:{username}",
                       office=adapters.user_jurisdiction(uow.conn, username), actor=actor, producer=PRODUCER)
    [stored] = uow.append(env.case_id, None, [env])
    record_revocation(uow.conn, username, stored.occurred_at)


def set_password(db: Database, username: str, password: str, actor: str = "system:cli") -> None:
    """A new password; the tokens issued before it stop working everywhere."""
    domain.check_password(password)
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

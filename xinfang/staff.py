"""Revoked staff tokens, the same in every service.

A token is checked with routing's public key alone, so a disabled account's token kept working
until it expired (8 hours). Routing now publishes ``StaffAccessRevoked`` when it disables an
account or changes its password; every service keeps the latest such instant per user in its own
database (``revoked_staff``) and refuses the tokens issued before it.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Column, MetaData, String, Table

from xinfang.contracts import Envelope, topic_for
from xinfang.storage import Database, UnitOfWork
from xinfang.storage.types import UtcDateTime

EVENT = "StaffAccessRevoked"

metadata = MetaData()
revoked_staff = Table(
    "revoked_staff", metadata,
    Column("username", String(64), primary_key=True),
    Column("revoked_at", UtcDateTime(), nullable=False),   # tokens issued before it are refused
)


def create_v1(op) -> None:
    """The table, as each service's migration creates it."""
    op.create_table("revoked_staff",
                    sa.Column("username", sa.String(64), primary_key=True),
                    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False))


_ONE = sa.select(revoked_staff.c.revoked_at).where(revoked_staff.c.username == sa.bindparam("k_user"))
_UPDATE = (revoked_staff.update().where(revoked_staff.c.username == sa.bindparam("k_user"),
                                        revoked_staff.c.revoked_at < sa.bindparam("k_at"))
           .values(revoked_at=sa.bindparam("k_at")))


def record(conn: sa.Connection, username: str, at: datetime) -> None:
    """Keep the latest revocation of ``username`` (a redelivered or older event changes nothing)."""
    if conn.execute(_ONE, {"k_user": username}).first() is None:
        conn.execute(revoked_staff.insert().values(username=username, revoked_at=at))
    else:
        conn.execute(_UPDATE, {"k_user": username, "k_at": at})


def on_access_revoked(uow: UnitOfWork, env: Envelope) -> None:
    record(uow.conn, env.payload["username"], env.occurred_at)


def revoked_at(db: Database) -> Callable[[str], datetime | None]:
    """A lookup for the request path: when ``username``'s tokens were last revoked, if ever."""
    def lookup(username: str) -> datetime | None:
        with db.read() as c:
            return c.execute(_ONE, {"k_user": username}).scalar()
    return lookup


def with_revocations(subscriptions: list, handler=on_access_revoked) -> list:
    """The service's subscriptions, with routing's StaffAccessRevoked applied by ``handler``."""
    from xinfang.messaging.streams import with_event

    return with_event(subscriptions, topic_for("routing"), EVENT, handler)

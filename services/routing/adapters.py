"""Routing's tables and the SQL its parts share: the assignment read model, the organisation
(``SqlDirectory``, what the domain's ``Directory`` reads), the routing rules and the staff accounts."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Index, MetaData, String, Table, Text

from services.routing import domain
from xinfang.storage.types import UtcDateTime

metadata = MetaData()

assignments = Table(
    "assignments", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("category_code", String(8), nullable=False),
    Column("unit_id", String(64), nullable=True),   # None: nobody yet (the dispatcher's queue)
    Column("rule", Text, nullable=True),
    Column("assigned_at", UtcDateTime(), nullable=True),
    # the read model of the case's assignment, kept with routing's own events in one transaction
    Column("state", String(16), nullable=False),          # unassigned | to_sign | signed | objected
    Column("stage", String(16), nullable=False),          # handling | review | re_review
    Column("mode", String(8), nullable=True),
    Column("rule_id", String(64), nullable=True),
    Column("chosen_by", String(64), nullable=True),       # the user who chose the unit by hand
    Column("reason", Text, nullable=True),
    Column("co_unit_ids", Text, nullable=False),          # JSON list (协办)
    Column("owner_leader", String(64), nullable=True),    # 包案
    Column("state_since", UtcDateTime(), nullable=True),
    Column("objection_reason", Text, nullable=True),
    Column("queue_reason", Text, nullable=True),
    Column("intake_state", String(8), nullable=False),    # open | accepted | done (from intake's events)
    Column("inbox_state", String(16), nullable=True),     # to_sign | to_accept | in_hand | objected
    Column("summary", Text, nullable=False),
)
Index("ix_assignments_inbox", assignments.c.unit_id, assignments.c.inbox_state)
Index("ix_assignments_state", assignments.c.state)
Index("ix_assignments_owner", assignments.c.owner_leader, assignments.c.state_since)

# the units asked to help with a case (协办), one row each: their inbox lists the case by unit
co_handling = Table(
    "co_handling", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("unit_id", String(64), primary_key=True),
)
Index("ix_co_handling_unit", co_handling.c.unit_id)

rules = Table(
    "rules", metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("division_prefix", String(12), nullable=False),
    Column("category_prefix", String(4), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("note", Text, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    Column("added_by", String(64), nullable=False),
    Column("retired_at", UtcDateTime(), nullable=True),
    Column("retired_by", String(64), nullable=True),
    Column("demo", Boolean, nullable=False),
)

# the organisation: projected inline from routing's own org events
divisions = Table(
    "divisions", metadata,
    Column("code", String(12), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("level", String(16), nullable=False),
    Column("parent", String(12), nullable=True),
    Column("demo", Boolean, nullable=False),
)

units = Table(
    "units", metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("demo", Boolean, nullable=False),
)

# staff accounts: state, not events (a password hash never travels on Kafka)
users = Table(
    "users", metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(100), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("jurisdiction", String(12), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)


# ------------------------------------------------------------------ a case's assignment row

# built once: a statement built per call cost more than running it (SQLAlchemy derives each new
# statement's cache key), and the consumer reads and writes a case's row for every event
_ROW = sa.select(assignments).where(assignments.c.case_id == sa.bindparam("k_case"))
_ROW_LOCKED = _ROW.with_for_update()
_UPDATE_ROW = assignments.update().where(assignments.c.case_id == sa.bindparam("k_case"))
_INSERT_ROW = assignments.insert()
_DELETE_CO = co_handling.delete().where(co_handling.c.case_id == sa.bindparam("k_case"))


def assignment_row(conn: sa.Connection, case_id: str, lock: bool = False):
    return conn.execute(_ROW_LOCKED if lock else _ROW, {"k_case": case_id}).mappings().first()


def update_assignment_row(conn: sa.Connection, case_id: str, values: dict) -> None:
    conn.execute(_UPDATE_ROW, {"k_case": case_id, **values})


def insert_assignment_row(conn: sa.Connection, row: dict) -> None:
    conn.execute(_INSERT_ROW, row)


def replace_co_handling(conn: sa.Connection, case_id: str, unit_ids: list[str]) -> None:
    conn.execute(_DELETE_CO, {"k_case": case_id})
    if unit_ids:
        conn.execute(co_handling.insert(), [{"case_id": case_id, "unit_id": u} for u in dict.fromkeys(unit_ids)])


# ------------------------------------------------------------------ the organisation and its rules


def org_stream(code: str) -> str:
    """The stream of a county's organisation events (divisions, units, routing rules)."""
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
        return [rule_of(r) for r in self.conn.execute(q).mappings()]

    def active_rules(self, division_prefix: str) -> list[domain.Rule]:
        q = sa.select(rules).where(rules.c.active.is_(True), rules.c.division_prefix == division_prefix)
        return [rule_of(r) for r in self.conn.execute(q).mappings()]


def rule_of(r) -> domain.Rule:
    return domain.Rule(r["rule_id"], r["division_prefix"], r["category_prefix"], r["unit_id"], r["note"])


def rule_row(conn: sa.Connection, rule_id: str, lock: bool = False):
    q = sa.select(rules).where(rules.c.rule_id == rule_id)
    return conn.execute(q.with_for_update() if lock else q).mappings().first()


def rule_ids_starting(conn: sa.Connection, prefix: str) -> set[str]:
    return set(conn.execute(sa.select(rules.c.rule_id).where(rules.c.rule_id.like(prefix + "%"))).scalars())


# ------------------------------------------------------------------ staff accounts


def user_row(conn: sa.Connection, username: str):
    return conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()


def account(conn: sa.Connection, username: str) -> domain.Account | None:
    row = user_row(conn, username)
    return domain.Account(row["username"], row["role"], row["jurisdiction"], row["active"]) if row else None


def user_exists(conn: sa.Connection, username: str) -> bool:
    return conn.execute(sa.select(users.c.username).where(users.c.username == username)).first() is not None


def insert_user(conn: sa.Connection, **values) -> None:
    conn.execute(users.insert().values(**values))


def update_user(conn: sa.Connection, username: str, **values) -> bool:
    """False when there is no such user."""
    return conn.execute(users.update().where(users.c.username == username).values(**values)).rowcount > 0


def user_jurisdiction(conn: sa.Connection, username: str) -> str:
    return conn.execute(sa.select(users.c.jurisdiction).where(users.c.username == username)).scalar_one()


def all_users(conn: sa.Connection) -> list:
    return list(conn.execute(sa.select(users).order_by(users.c.username)).mappings())

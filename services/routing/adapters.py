"""Routing's read models."""
from sqlalchemy import Boolean, Column, Index, MetaData, String, Table, Text

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

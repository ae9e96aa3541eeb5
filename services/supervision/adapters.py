"""Supervision's tables: the clocks (read model and state), the pending checkpoints the ticker
fires, supervision orders, collective-visit alerts. Created by the migrations in migrations/."""
from sqlalchemy import Boolean, Column, Date, Float, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from xinfang.storage.tables import BigId
from xinfang.storage.types import UtcDateTime

metadata = MetaData()

# one row per case and stage: the latest clock (status running | met | stopped)
deadlines = Table(
    "deadlines", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("office", String(12), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("limit_days", Integer, nullable=False),
    Column("day_kind", String(16), nullable=False),
    Column("basis", String(80), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("division_code", String(12), nullable=True),
    Column("status", String(16), nullable=False),
    Column("level", String(16), nullable=False),  # the last level published
    Column("met_at", UtcDateTime(), nullable=True),
    Column("on_time", Boolean, nullable=True),
    Column("warning", Text, nullable=True),
)

# what supervision knows of each case (the facts its clocks follow)
cases = Table(
    "sv_cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=True),
    Column("unit_id", String(64), nullable=True),
    Column("received_at", UtcDateTime(), nullable=True),
    Column("assigned_at", UtcDateTime(), nullable=True),
    Column("accepted_at", UtcDateTime(), nullable=True),
    Column("procedure", String(16), nullable=True),
    Column("extended_days", Integer, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("owner_leader", String(64), nullable=True),
    # set for a case imported from the old system: when it came in. Crossings before then are
    # history, kept in the clock's level but never published as news
    Column("imported_at", UtcDateTime(), nullable=True),
    Index("ix_sv_cases_owner", "owner_leader"),
)

# one pending crossing per (case, stage, level[, order]); the ticker fires fire_at <= now
checkpoints = Table(
    "checkpoints", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("level", String(16), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("share", Float, nullable=False),
    Column("fire_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    UniqueConstraint("case_id", "stage", "level", "ref", name="uq_checkpoints_crossing"),
    Index("ix_checkpoints_fire_at", "fire_at"),
)

orders = Table(
    "supervision_orders", metadata,
    Column("order_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("office", String(12), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("requirement", Text, nullable=False),
    Column("reply_by", Date, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("issuer_jurisdiction", String(12), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # open | answered | escalated
    Column("answer", Text, nullable=True),
    Column("answered_at", UtcDateTime(), nullable=True),
    Column("answered_by", String(64), nullable=True),
    Column("escalated_to", String(12), nullable=True),
    Column("escalated_at", UtcDateTime(), nullable=True),
)

alerts = Table(
    "alerts", metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False, unique=True),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("level", String(16), nullable=False),
    Column("raised_at", UtcDateTime(), nullable=False),
)

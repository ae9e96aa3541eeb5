"""Routing's read models."""
from sqlalchemy import Boolean, Column, MetaData, String, Table, Text

from xinfang.storage.types import UtcDateTime

metadata = MetaData()

assignments = Table(
    "assignments", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("category_code", String(8), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("rule", Text, nullable=True),
    Column("assigned_at", UtcDateTime(), nullable=False),
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

"""Supervision's read models."""
from sqlalchemy import Column, Integer, MetaData, String, Table

from xinfang.storage.types import UtcDateTime

metadata = MetaData()

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
)

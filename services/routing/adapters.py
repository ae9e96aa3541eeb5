"""Routing's read models."""
from sqlalchemy import Column, MetaData, String, Table, Text

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

"""Reporting's read model: one row of facts per case. No personal data: never a petitioner."""
from sqlalchemy import Column, Integer, MetaData, String, Table

from xinfang.storage.types import UtcDateTime

metadata = MetaData()

case_facts = Table(
    "case_facts", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("category_code", String(8), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("assigned_at", UtcDateTime(), nullable=True),
    Column("handling_due_at", UtcDateTime(), nullable=True),
)

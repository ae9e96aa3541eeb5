"""Intake's own tables beside the kernel ones: the case list (an inline projection written in
the same transaction as the events) and petitioners' personal data, encrypted."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text

from xinfang.storage.types import UtcDateTime

metadata = MetaData()

cases = Table(
    "cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("tracking_code", String(20), nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("category_code", String(8), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("summary", Text, nullable=False),
    Column("request", Text, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    Column("flags", Text, nullable=False, default=""),      # space-separated
    Column("repeat_of", String(64), nullable=True),
    Column("final", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    Column("owner_leader", String(64), nullable=True),      # 包案: the leader who took the case
    Column("co_unit_ids", Text, nullable=False, default=""),  # 协办 units, space-separated
)

petitioners = Table(
    "petitioners", metadata,
    Column("petitioner_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_type", String(32), nullable=False),
    Column("id_number_enc", Text, nullable=False),
    Column("id_number_hash", String(64), nullable=False),
    Column("id_number_masked", String(32), nullable=False),
    Column("phone_enc", Text, nullable=True),
    Column("phone_masked", String(32), nullable=True),
    Column("address_enc", Text, nullable=True),
)

# routing's organisation, as intake needs it: which divisions exist, what units are called
divisions = Table(
    "divisions", metadata,
    Column("code", String(12), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("level", String(16), nullable=False),
)

units = Table(
    "units", metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
)

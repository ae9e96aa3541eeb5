"""The kernel tables every service database has. Read models live beside them, per service.

The schema is created and changed only by Alembic migrations (``xinfang.storage.migrations``);
these Table objects are for queries.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from xinfang.storage.types import UtcDateTime

metadata = MetaData()

# SQLite autoincrements only INTEGER PRIMARY KEY
BigId = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events", metadata,
    Column("position", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream_id", String(80), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("case_id", String(64), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
)

# the hash chain over events (xinfang/storage/chain.py): one link per event, in commit order
event_chain = Table(
    "event_chain", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False, unique=True),
    Column("hash", String(64), nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("topic", String(128), nullable=False),
    Column("key", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True),
    Column("traceparent", String(55), nullable=True),  # W3C trace context of the appending span
    Index("ix_outbox_unpublished", "published_at", "id"),
)

inbox = Table(
    "inbox", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("topic", String(128), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("applied_at", UtcDateTime(), nullable=False),
)

# how far each consumer has applied each partition (written with the effect)
positions = Table(
    "positions", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("topic", String(128), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("offset", BigInteger, nullable=False),
)

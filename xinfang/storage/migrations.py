"""Alembic, driven from code: every service keeps its migrations in ``services/<name>/migrations``.

``kernel_v1`` is the frozen DDL of the kernel tables (events, outbox, inbox, positions); each
service's first migration calls it, so the kernel schema is identical everywhere.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config


def kernel_v1(op) -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "events",
        sa.Column("position", big, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("stream_id", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    )
    op.create_index("ix_events_case", "events", ["case_id"])
    op.create_table(
        "outbox",
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "positions",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(128), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
    )


def kernel_v1_down(op) -> None:
    for t in ("positions", "inbox", "outbox", "events"):
        op.drop_table(t)


def outbox_traceparent_v2(op) -> None:
    """The W3C traceparent of the span that appended the event (the request's, or the consumer's
    for a reaction), stored with its outbox row so the relay sends it as a Kafka header. Nullable:
    rows written before have none, and the relay starts a new trace for them."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def outbox_traceparent_v2_down(op) -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("traceparent")


def upgrade(engine: sa.Engine, script_location: str | Path, revision: str = "head") -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = None
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def run_env() -> None:
    """Body of every service's ``migrations/env.py``: migrate on the connection handed over."""
    from alembic import context

    conn = context.config.attributes.get("connection")
    if conn is None:  # plain `alembic upgrade` from the command line
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("alembic: set sqlalchemy.url, or run the migrations through the service")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            context.configure(connection=conn, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=conn, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()

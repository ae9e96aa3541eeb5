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


APPEND_ONLY_MESSAGE = "events are append-only: correct a mistake by a new event (docs/operations.md)"


def events_append_only_v3(op) -> None:
    """The event store refuses UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) from every role,
    the service's own included: a stored event is never edited; a mistake is corrected by a new
    event. A trigger, not a grant: the services own their tables, and an owner keeps every right
    a grant could take away. Dropping or disabling the trigger needs the table's owner and shows
    in the database's own log."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION xinfang_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{APPEND_ONLY_MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
            END $$""")
    _refuse_changes(op, "events")


def _refuse_changes(op, table: str) -> None:
    """Triggers that refuse every UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) of ``table``,
    named after it; on PostgreSQL through events_append_only_v3's function."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION xinfang_events_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION xinfang_events_append_only()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_append_only_{what.lower()} BEFORE {what} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END")


def events_append_only_v3_down(op) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
        op.execute("DROP FUNCTION IF EXISTS xinfang_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS events_append_only_delete")


def events_chain_v4(op) -> None:
    """The hash chain over events (xinfang/storage/chain.py): one link per event, the events
    stored before it linked now in position order; append-only like the events themselves."""
    from xinfang.storage import chain  # the chain's one layout, the same the writers use

    op.create_table(
        "event_chain",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    chain.link_all(op.get_bind())
    _refuse_changes(op, "event_chain")


def events_chain_v4_down(op) -> None:
    op.drop_table("event_chain")


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

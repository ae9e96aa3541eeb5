"""clock state and status, pending checkpoints, supervision orders, collective-visit alerts

Revision ID: supervision_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "supervision_0002"
down_revision = "supervision_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("deadlines") as b:
        b.add_column(sa.Column("division_code", sa.String(12), nullable=True))
        b.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="running"))
        b.add_column(sa.Column("level", sa.String(16), nullable=False, server_default="normal"))
        b.add_column(sa.Column("met_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("on_time", sa.Boolean, nullable=True))
        b.add_column(sa.Column("warning", sa.Text, nullable=True))
    op.create_index("ix_deadlines_status_due", "deadlines", ["status", "due_at"])
    op.create_index("ix_deadlines_office", "deadlines", ["office"])
    op.create_table(
        "sv_cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=True),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("procedure", sa.String(16), nullable=True),
        sa.Column("extended_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("owner_leader", sa.String(64), nullable=True),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("share", sa.Float, nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "stage", "level", "ref", name="uq_checkpoints_crossing"),
    )
    op.create_index("ix_checkpoints_fire_at", "checkpoints", ["fire_at"])
    op.create_table(
        "supervision_orders",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("requirement", sa.Text, nullable=False),
        sa.Column("reply_by", sa.Date, nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issuer_jurisdiction", sa.String(12), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("escalated_to", sa.String(12), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_orders_case", "supervision_orders", ["case_id"])
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, unique=True),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("headcount", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("alerts")
    op.drop_table("supervision_orders")
    op.drop_table("checkpoints")
    op.drop_table("sv_cases")
    op.drop_index("ix_deadlines_office", "deadlines")
    op.drop_index("ix_deadlines_status_due", "deadlines")
    with op.batch_alter_table("deadlines") as b:
        for c in ("warning", "on_time", "met_at", "level", "status", "division_code"):
            b.drop_column(c)

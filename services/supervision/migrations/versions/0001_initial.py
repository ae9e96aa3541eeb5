"""kernel tables, deadlines

Revision ID: supervision_0001
"""
import sqlalchemy as sa
from alembic import op

from xinfang.storage.migrations import kernel_v1, kernel_v1_down

revision = "supervision_0001"
down_revision = None


def upgrade():
    kernel_v1(op)
    op.create_table(
        "deadlines",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("stage", sa.String(32), primary_key=True),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("limit_days", sa.Integer, nullable=False),
        sa.Column("day_kind", sa.String(16), nullable=False),
        sa.Column("basis", sa.String(80), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_deadlines_due", "deadlines", ["due_at"])


def downgrade():
    op.drop_table("deadlines")
    kernel_v1_down(op)

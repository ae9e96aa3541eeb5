"""kernel tables, assignments

Revision ID: routing_0001
"""
import sqlalchemy as sa
from alembic import op

from xinfang.storage.migrations import kernel_v1, kernel_v1_down

revision = "routing_0001"
down_revision = None


def upgrade():
    kernel_v1(op)
    op.create_table(
        "assignments",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False, index=True),
        sa.Column("rule", sa.Text, nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("assignments")
    kernel_v1_down(op)

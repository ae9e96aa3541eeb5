"""kernel tables, case facts

Revision ID: reporting_0001
"""
import sqlalchemy as sa
from alembic import op

from xinfang.storage.migrations import kernel_v1, kernel_v1_down

revision = "reporting_0001"
down_revision = None


def upgrade():
    kernel_v1(op)
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("headcount", sa.Integer, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handling_due_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_case_facts_office", "case_facts", ["office", "received_at"])


def downgrade():
    op.drop_table("case_facts")
    kernel_v1_down(op)

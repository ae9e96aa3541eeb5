"""kernel tables, cases, petitioners

Revision ID: intake_0001
"""
import sqlalchemy as sa
from alembic import op

from xinfang.storage.migrations import kernel_v1, kernel_v1_down

revision = "intake_0001"
down_revision = None


def upgrade():
    kernel_v1(op)
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("tracking_code", sa.String(20), nullable=False, unique=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("headcount", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_cases_office", "cases", ["office", "registered_at"])
    op.create_table(
        "petitioners",
        sa.Column("petitioner_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_type", sa.String(32), nullable=False),
        sa.Column("id_number_enc", sa.Text, nullable=False),
        sa.Column("id_number_hash", sa.String(64), nullable=False, index=True),
        sa.Column("id_number_masked", sa.String(32), nullable=False),
        sa.Column("phone_enc", sa.Text, nullable=True),
        sa.Column("phone_masked", sa.String(32), nullable=True),
        sa.Column("address_enc", sa.Text, nullable=True),
    )


def downgrade():
    op.drop_table("petitioners")
    op.drop_table("cases")
    kernel_v1_down(op)

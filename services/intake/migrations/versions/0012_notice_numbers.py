"""notice_numbers: each written notice's document number (文号) in its office's yearly series,
unique per (office, year, seq); the notices issued before are numbered here in the order of the
store, as ``adapters.renumber_notices`` numbers them again

Revision ID: intake_0012
"""
import sqlalchemy as sa
from alembic import op

from services.intake.adapters import renumber_notices

revision = "intake_0012"
down_revision = "intake_0011"


def upgrade():
    op.create_table(
        "notice_numbers",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.UniqueConstraint("office", "year", "seq", name="uq_notice_numbers_series"),
    )
    op.create_index("ix_notice_numbers_case", "notice_numbers", ["case_id"])
    renumber_notices(op.get_bind())


def downgrade():
    op.drop_index("ix_notice_numbers_case", "notice_numbers")
    op.drop_table("notice_numbers")

"""case_history: the other services' events of each case as intake heard them, with their link
in their producer's chain, for the case's whole history (GET /api/v1/cases/{id}/history)

Revision ID: intake_0016
"""
import sqlalchemy as sa
from alembic import op

from xinfang.storage.types import UtcDateTime

revision = "intake_0016"
down_revision = "intake_0015"


def upgrade():
    # the cases' events heard before this migration are not here: their history shows intake's own
    # events and what is heard from now on
    op.create_table(
        "case_history",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("producer", sa.String(32), nullable=False),
        sa.Column("chain_seq", sa.BigInteger, nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_case_history_case", "case_history", ["case_id"])


def downgrade():
    op.drop_table("case_history")

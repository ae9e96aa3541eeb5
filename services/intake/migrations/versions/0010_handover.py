"""cases.assigned_at and cases.signed_at: when routing handed the case to its unit and when the
unit signed for it, so an acceptance waits for the signing and is never dated before it

Revision ID: intake_0010
"""
import sqlalchemy as sa
from alembic import op

from xinfang.storage.types import UtcDateTime

revision = "intake_0010"
down_revision = "intake_0009"


def upgrade():
    # rows assigned before this migration keep NULL: their signing is unknown here, and
    # the rule is not applied to them
    op.add_column("cases", sa.Column("assigned_at", UtcDateTime(), nullable=True))
    op.add_column("cases", sa.Column("signed_at", UtcDateTime(), nullable=True))


def downgrade():
    op.drop_column("cases", "signed_at")
    op.drop_column("cases", "assigned_at")

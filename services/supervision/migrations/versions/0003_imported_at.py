"""when a case imported from the old system came in: its crossings before then are history

Revision ID: supervision_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "supervision_0003"
down_revision = "supervision_0002"


def upgrade():
    with op.batch_alter_table("sv_cases") as b:
        b.add_column(sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("sv_cases") as b:
        b.drop_column("imported_at")

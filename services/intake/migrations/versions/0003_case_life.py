"""case life: flags, the repeated case, finality, the last step's time

Revision ID: intake_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0003"
down_revision = "intake_0002"


def upgrade():
    with op.batch_alter_table("cases") as b:
        b.add_column(sa.Column("flags", sa.Text, nullable=False, server_default=""))
        b.add_column(sa.Column("repeat_of", sa.String(64), nullable=True))
        b.add_column(sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_status", "cases", ["status"])


def downgrade():
    op.drop_index("ix_cases_status", "cases")
    with op.batch_alter_table("cases") as b:
        for c in ("updated_at", "final", "repeat_of", "flags"):
            b.drop_column(c)

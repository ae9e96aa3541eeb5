"""case list: the leader who owns a case (包案), indexes for the list's filters

Revision ID: intake_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0004"
down_revision = "intake_0003"


def upgrade():
    with op.batch_alter_table("cases") as b:
        b.add_column(sa.Column("owner_leader", sa.String(64), nullable=True))
        b.add_column(sa.Column("co_unit_ids", sa.Text, nullable=False, server_default=""))
    op.create_index("ix_cases_unit", "cases", ["unit_id", "registered_at"])
    op.create_index("ix_cases_category", "cases", ["category_code"])
    op.create_index("ix_cases_received", "cases", ["received_at"])


def downgrade():
    for ix in ("ix_cases_received", "ix_cases_category", "ix_cases_unit"):
        op.drop_index(ix, "cases")
    with op.batch_alter_table("cases") as b:
        b.drop_column("co_unit_ids")
        b.drop_column("owner_leader")

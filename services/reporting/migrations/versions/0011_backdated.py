"""report_facts.backdated: 1 for an act recorded late (补录, the event's ``backdated`` mark), so
reporting counts each unit's back-dated acts beside its rates (docs/rates.md). The facts stored
before are of events no act had marked yet (their schema had no mark): left NULL, not back-dated.
The index finds the few marked acts of a period without reading the others.

Revision ID: reporting_0011
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0011"
down_revision = "reporting_0010"


def upgrade():
    op.add_column("report_facts", sa.Column("backdated", sa.Integer, nullable=True))
    op.create_index("ix_report_facts_backdated", "report_facts", ["generation", "backdated", "occurred_at"])


def downgrade():
    op.drop_index("ix_report_facts_backdated", table_name="report_facts")
    with op.batch_alter_table("report_facts") as b:
        b.drop_column("backdated")

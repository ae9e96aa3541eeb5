"""report_cases spans the acts the rates count (rated_from, rated_to: decisions, replies,
evaluations), not every fact: an imported case's DeadlineSet happens when it is imported, so the
span of every old case reached into the import's year and each of that year's rates folded every
imported case. Every case is folded again.

The fold used is the running code's (projections.refresh_all_cases): this is the last migration
that changes it. A later change to the fold moves this refill to its own migration.

Revision ID: reporting_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0004"
down_revision = "reporting_0003"

T = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("report_cases") as b:
        b.alter_column("occurred_from", new_column_name="rated_from", existing_type=T, nullable=True)
        b.alter_column("occurred_to", new_column_name="rated_to", existing_type=T, nullable=True)
    from services.reporting.projections import refresh_all_cases

    refresh_all_cases(op.get_bind())


def downgrade():
    with op.batch_alter_table("report_cases") as b:
        b.alter_column("rated_from", new_column_name="occurred_from", existing_type=T, nullable=True)
        b.alter_column("rated_to", new_column_name="occurred_to", existing_type=T, nullable=True)
    op.execute("UPDATE report_cases SET occurred_from = (SELECT min(occurred_at) FROM report_facts f "
               "WHERE f.generation = report_cases.generation AND f.case_id = report_cases.case_id), "
               "occurred_to = (SELECT max(occurred_at) FROM report_facts f "
               "WHERE f.generation = report_cases.generation AND f.case_id = report_cases.case_id)")

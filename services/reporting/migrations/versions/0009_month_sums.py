"""the monthly sums (report_months, services/reporting/months.py): the leader's dashboard adds up
per-month counts instead of judging every case of the period (one second at 100,000 cases on
SQLite); counted here from every generation's report_cases rows.

The count is the running code's (months.build), as reporting_0004's fold is: a later change to
what the sums count is a migration that counts them again.

Revision ID: reporting_0009
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0009"
down_revision = "reporting_0008"

FIGURES = ("registered", "assigned", "person_times", "visit_batches", "visit_person_times", "online",
           "first_petition", "repeat", "skip_level", "collective", "law_related", "open", "overdue", "backlog",
           "decided", "decided_on_time", "undecided_past_limit", "replied", "replied_on_time", "replied_evaluated",
           "first_replied", "first_resolved", "unreplied_past_deadline", "evaluated", "satisfied")


def upgrade():
    op.create_table(
        "report_months",
        # a question reads a range of months of one kind and breakdown: the key's order
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("dim", sa.String(12), primary_key=True),
        sa.Column("m1", sa.String(7), primary_key=True),
        sa.Column("office", sa.String(12), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("m2", sa.String(7), primary_key=True),
        *[sa.Column(f, sa.Integer, nullable=False, server_default="0") for f in FIGURES],
    )
    op.create_table(
        "report_months_rules",
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("rules", sa.Text, nullable=False),
    )
    # months.statistics: the cases with an act or a limit in a period's last month
    op.create_index("ix_report_cases_rated_to", "report_cases", ["generation", "rated_to"])
    op.create_index("ix_report_cases_due_to", "report_cases", ["generation", "due_to"])
    from services.reporting import months

    conn = op.get_bind()
    for gen in conn.execute(sa.text("SELECT DISTINCT generation FROM report_cases")).scalars().all():
        months.build(conn, gen)


def downgrade():
    op.drop_index("ix_report_cases_due_to", "report_cases")
    op.drop_index("ix_report_cases_rated_to", "report_cases")
    op.drop_table("report_months_rules")
    op.drop_table("report_months")

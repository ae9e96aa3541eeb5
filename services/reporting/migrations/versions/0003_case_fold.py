"""the case view folded per case (report_cases), kept beside the facts, so a year's rates read one
row per settled case instead of folding every fact at each query; filled here from the facts
already stored. The facts' window and scope indexes go: queries find their cases in report_cases.

Revision ID: reporting_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0003"
down_revision = "reporting_0002"

T = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "report_cases",
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("settled_at", T, nullable=False),
        sa.Column("occurred_from", T, nullable=False),
        sa.Column("occurred_to", T, nullable=False),
        sa.Column("due_from", T),
        sa.Column("due_to", T),
        sa.Column("registered", sa.Integer, nullable=False),
        sa.Column("office", sa.String(12)),
        sa.Column("division_code", sa.String(12)),
        sa.Column("category_code", sa.String(8)),
        sa.Column("channel", sa.String(16)),
        sa.Column("purpose", sa.String(16)),
        sa.Column("headcount", sa.Integer),
        sa.Column("received_at", T),
        sa.Column("first_petition", sa.Integer),
        sa.Column("repeat", sa.Integer),
        sa.Column("skip_level", sa.Integer),
        sa.Column("collective", sa.Integer),
        sa.Column("law_related", sa.Integer),
        sa.Column("unit_id", sa.String(64)),
        sa.Column("decision_at", T),
        sa.Column("not_accepted", sa.Integer, nullable=False),
        sa.Column("acceptance_due", T),
        sa.Column("reply_at", T),
        sa.Column("handling_due", T),
        sa.Column("eval_at", T),
        sa.Column("rating", sa.String(24)),
        sa.Column("reviewed", sa.Integer, nullable=False),
        sa.Column("closed", sa.Integer, nullable=False),
        sa.Column("repeated_at", T),
    )
    op.create_index("ix_report_cases_office", "report_cases", ["generation", "office", "received_at"])
    op.create_index("ix_report_cases_settled", "report_cases", ["generation", "settled_at"])
    # the facts' window and scope indexes served the query-time candidate search, now made in report_cases
    for ix in ("ix_report_facts_occurred", "ix_report_facts_due", "ix_report_facts_kind_case", "ix_report_facts_office"):
        op.drop_index(ix, "report_facts")
    # filled by the last migration that changes the fold (reporting_0004), with the fold of the
    # code that runs it: filled here, with today's fold, it would not fit this revision's columns


def downgrade():
    op.drop_table("report_cases")
    op.create_index("ix_report_facts_occurred", "report_facts", ["generation", "occurred_at"])
    op.create_index("ix_report_facts_due", "report_facts", ["generation", "due_at"])
    op.create_index("ix_report_facts_kind_case", "report_facts", ["generation", "kind", "case_id"])
    op.create_index("ix_report_facts_office", "report_facts", ["generation", "kind", "office", "received_at"])

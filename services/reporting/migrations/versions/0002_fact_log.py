"""raw fact log, bitemporal facts per generation, the generation pointer; the one-row-per-case
table goes (its rows are re-derived by `xinfang rebuild reporting` only from the log, and a fresh
log fills from the topics: reporting is a projection)

Revision ID: reporting_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0002"
down_revision = "reporting_0001"

T = sa.DateTime(timezone=True)


def upgrade():
    op.drop_table("case_facts")
    # the facts are re-derived from every event: let the topics deliver them again
    op.execute("DELETE FROM inbox WHERE consumer = 'reporting'")
    op.execute("DELETE FROM positions WHERE consumer = 'reporting'")
    op.create_table(
        "report_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("occurred_at", T, nullable=False),
        sa.Column("recorded_at", T, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
    )
    op.create_table(
        "report_facts",
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("occurred_at", T, nullable=False),
        sa.Column("recorded_at", T, nullable=False),
        sa.Column("stage", sa.String(16)),
        sa.Column("unit_id", sa.String(64)),
        sa.Column("due_at", T),
        sa.Column("rating", sa.String(24)),
        sa.Column("decision", sa.String(24)),
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
        sa.Column("repeat_of", sa.String(64)),
        sa.Column("superseded_at", T),
    )
    op.create_index("ix_report_facts_occurred", "report_facts", ["generation", "occurred_at"])
    op.create_index("ix_report_facts_due", "report_facts", ["generation", "due_at"])
    op.create_index("ix_report_facts_kind_case", "report_facts", ["generation", "kind", "case_id"])
    op.create_index("ix_report_facts_case", "report_facts", ["generation", "case_id"])
    op.create_index("ix_report_facts_office", "report_facts", ["generation", "kind", "office", "received_at"])
    op.create_index("ix_report_facts_repeat_of", "report_facts", ["generation", "repeat_of"])
    gen = op.create_table(
        "report_generation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("building", sa.Integer),
    )
    op.bulk_insert(gen, [{"id": 1, "active": 1, "building": None}])


def downgrade():
    op.drop_table("report_generation")
    op.drop_table("report_facts")
    op.drop_table("report_log")
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("office", sa.String(12), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("headcount", sa.Integer, nullable=False),
        sa.Column("received_at", T, nullable=False),
        sa.Column("registered_at", T, nullable=False),
        sa.Column("unit_id", sa.String(64)),
        sa.Column("assigned_at", T),
        sa.Column("handling_due_at", T),
    )

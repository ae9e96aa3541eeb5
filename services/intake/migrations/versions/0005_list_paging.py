"""case list paging: an index in the list's order that also holds the columns a user's scope is
checked on, so a page (first or two-thousandth) is found in the index alone and only its rows are read

Revision ID: intake_0005
"""
from alembic import op

revision = "intake_0005"
down_revision = "intake_0004"


def upgrade():
    op.create_index("ix_cases_listed", "cases", ["registered_at", "case_id", "office", "unit_id"])


def downgrade():
    op.drop_index("ix_cases_listed", "cases")

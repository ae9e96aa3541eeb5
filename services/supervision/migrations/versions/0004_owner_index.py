"""an index for the backlog of one leader's owned cases (包案), asked by the leader's page

Revision ID: supervision_0004
"""
from alembic import op

revision = "supervision_0004"
down_revision = "supervision_0003"


def upgrade():
    op.create_index("ix_sv_cases_owner", "sv_cases", ["owner_leader"])


def downgrade():
    op.drop_index("ix_sv_cases_owner", "sv_cases")

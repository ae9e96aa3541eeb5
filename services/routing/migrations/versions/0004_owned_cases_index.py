"""an index for a leader's owned cases (包案): the leader's page lists them by owner

Revision ID: routing_0004
"""
from alembic import op

revision = "routing_0004"
down_revision = "routing_0003"


def upgrade():
    op.create_index("ix_assignments_owner", "assignments", ["owner_leader", "state_since"])


def downgrade():
    op.drop_index("ix_assignments_owner", "assignments")

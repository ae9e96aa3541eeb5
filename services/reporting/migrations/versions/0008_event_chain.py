"""the hash chain over events (xinfang.storage.migrations.events_chain_v4): every event linked to
the one before it, so that an edit, a deletion or a move in the database shows in
`xinfang audit verify` (a kernel table: every service has this migration)

Revision ID: reporting_0008
"""
from alembic import op

from xinfang.storage.migrations import events_chain_v4, events_chain_v4_down

revision = "reporting_0008"
down_revision = "reporting_0007"


def upgrade():
    events_chain_v4(op)


def downgrade():
    events_chain_v4_down(op)

"""the hash chain over events (xinfang.storage.migrations.events_chain_v4): every event linked to
the one before it, so that an edit, a deletion or a move in the database shows in
`xinfang audit verify` (a kernel table: every service has this migration)

Revision ID: supervision_0009
"""
from alembic import op

from xinfang.storage.migrations import events_chain_v4, events_chain_v4_down

revision = "supervision_0009"
down_revision = "supervision_0008"


def upgrade():
    events_chain_v4(op)


def downgrade():
    events_chain_v4_down(op)

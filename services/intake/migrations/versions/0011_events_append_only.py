"""events refuse UPDATE and DELETE (xinfang.storage.migrations.events_append_only_v3): the store
is append-only for every role, the service's own included (a kernel table: every service has
this migration)

Revision ID: intake_0011
"""
from alembic import op

from xinfang.storage.migrations import events_append_only_v3, events_append_only_v3_down

revision = "intake_0011"
down_revision = "intake_0010"


def upgrade():
    events_append_only_v3(op)


def downgrade():
    events_append_only_v3_down(op)

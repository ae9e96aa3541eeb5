"""outbox.traceparent: the W3C trace context of the span that appended each event, sent by the
relay as a Kafka header (a kernel table: every service has this migration)

Revision ID: supervision_0006
"""
from alembic import op

from xinfang.storage.migrations import outbox_traceparent_v2, outbox_traceparent_v2_down

revision = "supervision_0006"
down_revision = "supervision_0005"


def upgrade():
    outbox_traceparent_v2(op)


def downgrade():
    outbox_traceparent_v2_down(op)

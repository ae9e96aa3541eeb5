"""outbox.traceparent: the W3C trace context of the span that appended each event, sent by the
relay as a Kafka header (a kernel table: every service has this migration)

Revision ID: intake_0007
"""
from alembic import op

from xinfang.storage.migrations import outbox_traceparent_v2, outbox_traceparent_v2_down

revision = "intake_0007"
down_revision = "intake_0006"


def upgrade():
    outbox_traceparent_v2(op)


def downgrade():
    outbox_traceparent_v2_down(op)

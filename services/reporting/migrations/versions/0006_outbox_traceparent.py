"""outbox.traceparent: the W3C trace context of the span that appended each event, sent by the
relay as a Kafka header (a kernel table: every service has this migration)

Revision ID: reporting_0006
"""
from alembic import op

from xinfang.storage.migrations import outbox_traceparent_v2, outbox_traceparent_v2_down

revision = "reporting_0006"
down_revision = "reporting_0005"


def upgrade():
    outbox_traceparent_v2(op)


def downgrade():
    outbox_traceparent_v2_down(op)

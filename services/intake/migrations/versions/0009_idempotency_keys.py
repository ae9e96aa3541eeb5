"""idempotency_keys (xinfang.storage.idempotency): a registration re-sent with the same
Idempotency-Key answers the first one's result instead of registering twice

Revision ID: intake_0009
"""
from alembic import op

from xinfang.storage.idempotency import create_v1

revision = "intake_0009"
down_revision = "intake_0008"


def upgrade():
    create_v1(op)


def downgrade():
    op.drop_table("idempotency_keys")

"""idempotency_keys (xinfang.storage.idempotency): a POST that creates something, re-sent with
the same Idempotency-Key, answers the first one's result instead of acting twice

Revision ID: supervision_0007
"""
from alembic import op

from xinfang.storage.idempotency import create_v1

revision = "supervision_0007"
down_revision = "supervision_0006"


def upgrade():
    create_v1(op)


def downgrade():
    op.drop_table("idempotency_keys")

"""the signed checkpoints of every service's event chain this service holds
(xinfang/storage/checkpoints.py), its own and those it hears (a kernel table: every service has
this migration)

Revision ID: routing_0010
"""
from alembic import op

from xinfang.storage import checkpoints

revision = "routing_0010"
down_revision = "routing_0009"


def upgrade():
    checkpoints.create_v1(op)


def downgrade():
    op.drop_table("chain_checkpoints")

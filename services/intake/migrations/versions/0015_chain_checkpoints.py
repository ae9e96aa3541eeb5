"""the signed checkpoints of every service's event chain this service holds
(xinfang/storage/checkpoints.py), its own and those it hears (a kernel table: every service has
this migration)

Revision ID: intake_0015
"""
from alembic import op

from xinfang.storage import checkpoints

revision = "intake_0015"
down_revision = "intake_0014"


def upgrade():
    checkpoints.create_v1(op)


def downgrade():
    op.drop_table("chain_checkpoints")

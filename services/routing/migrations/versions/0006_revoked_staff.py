"""revoked staff tokens (xinfang.staff): the latest StaffAccessRevoked per user; tokens issued
before it are refused

Revision ID: routing_0006
"""
from alembic import op

from xinfang.staff import create_v1

revision = "routing_0006"
down_revision = "routing_0005"


def upgrade():
    create_v1(op)


def downgrade():
    op.drop_table("revoked_staff")

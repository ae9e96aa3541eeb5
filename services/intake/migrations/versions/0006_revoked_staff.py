"""revoked staff tokens (xinfang.staff): the latest StaffAccessRevoked per user; tokens issued
before it are refused

Revision ID: intake_0006
"""
from alembic import op

from xinfang.staff import create_v1

revision = "intake_0006"
down_revision = "intake_0005"


def upgrade():
    create_v1(op)


def downgrade():
    op.drop_table("revoked_staff")

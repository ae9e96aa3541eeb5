"""revoked staff tokens (xinfang.staff): the latest StaffAccessRevoked per user; tokens issued
before it are refused

Revision ID: reporting_0005
"""
from alembic import op

from xinfang.staff import create_v1

revision = "reporting_0005"
down_revision = "reporting_0004"


def upgrade():
    create_v1(op)


def downgrade():
    op.drop_table("revoked_staff")

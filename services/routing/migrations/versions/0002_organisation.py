"""organisation (divisions, units) and users

Revision ID: routing_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "routing_0002"
down_revision = "routing_0001"


def upgrade():
    op.create_table(
        "divisions",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(12), nullable=True),
        sa.Column("demo", sa.Boolean, nullable=False),
    )
    op.create_table(
        "units",
        sa.Column("unit_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False, index=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("jurisdiction", sa.String(12), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("users")
    op.drop_table("units")
    op.drop_table("divisions")

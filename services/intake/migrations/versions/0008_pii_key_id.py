"""petitioners.pii_key_id: which PII key wrote each row's ciphertexts and hash, so that a key
rotation (``xinfang pii rotate``) finds what is left to rewrite; rows from before are NULL

Revision ID: intake_0008
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0008"
down_revision = "intake_0007"


def upgrade():
    op.add_column("petitioners", sa.Column("pii_key_id", sa.String(16), nullable=True))
    op.create_index("ix_petitioners_pii_key_id", "petitioners", ["pii_key_id"])


def downgrade():
    op.drop_index("ix_petitioners_pii_key_id", table_name="petitioners")
    with op.batch_alter_table("petitioners") as batch:
        batch.drop_column("pii_key_id")

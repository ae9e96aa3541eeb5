"""an index on petitioners' masked ID numbers: the case list's search by a masked ID number
(1101**********1234, as a notice or a receipt shows it) had read every petitioner

Revision ID: intake_0014
"""
from alembic import op

revision = "intake_0014"
down_revision = "intake_0013"


def upgrade():
    op.create_index("ix_petitioners_id_number_masked", "petitioners", ["id_number_masked"])


def downgrade():
    op.drop_index("ix_petitioners_id_number_masked", table_name="petitioners")

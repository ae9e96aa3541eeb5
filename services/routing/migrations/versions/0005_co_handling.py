"""the units asked to help with a case (协办), one row each, so their inbox can list it

Revision ID: routing_0005
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "routing_0005"
down_revision = "routing_0004"


def upgrade():
    t = op.create_table(
        "co_handling",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("unit_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_co_handling_unit", "co_handling", ["unit_id"])
    rows = op.get_bind().execute(sa.text("SELECT case_id, co_unit_ids FROM assignments WHERE co_unit_ids <> '[]'"))
    co = [{"case_id": case_id, "unit_id": u} for case_id, units in rows for u in dict.fromkeys(json.loads(units))]
    if co:
        op.bulk_insert(t, co)


def downgrade():
    op.drop_index("ix_co_handling_unit", "co_handling")
    op.drop_table("co_handling")

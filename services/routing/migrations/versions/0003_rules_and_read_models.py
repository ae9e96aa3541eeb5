"""routing rules as data; the assignment read model (state, co-handling units, leader, inbox)

Revision ID: routing_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "routing_0003"
down_revision = "routing_0002"


def upgrade():
    op.create_table(
        "rules",
        sa.Column("rule_id", sa.String(64), primary_key=True),
        sa.Column("division_prefix", sa.String(12), nullable=False),
        sa.Column("category_prefix", sa.String(4), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.String(64), nullable=True),
        sa.Column("demo", sa.Boolean, nullable=False),
    )
    with op.batch_alter_table("assignments") as b:
        b.alter_column("unit_id", existing_type=sa.String(64), nullable=True)
        b.alter_column("assigned_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        b.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="to_sign"))
        b.add_column(sa.Column("stage", sa.String(16), nullable=False, server_default="handling"))
        b.add_column(sa.Column("mode", sa.String(8), nullable=True))
        b.add_column(sa.Column("rule_id", sa.String(64), nullable=True))
        b.add_column(sa.Column("chosen_by", sa.String(64), nullable=True))
        b.add_column(sa.Column("reason", sa.Text, nullable=True))
        b.add_column(sa.Column("co_unit_ids", sa.Text, nullable=False, server_default="[]"))
        b.add_column(sa.Column("owner_leader", sa.String(64), nullable=True))
        b.add_column(sa.Column("state_since", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("objection_reason", sa.Text, nullable=True))
        b.add_column(sa.Column("queue_reason", sa.Text, nullable=True))
        b.add_column(sa.Column("intake_state", sa.String(8), nullable=False, server_default="open"))
        b.add_column(sa.Column("inbox_state", sa.String(16), nullable=True))
        b.add_column(sa.Column("summary", sa.Text, nullable=False, server_default=""))
    op.execute("UPDATE assignments SET inbox_state = 'to_sign', state_since = assigned_at")
    op.create_index("ix_assignments_inbox", "assignments", ["unit_id", "inbox_state"])
    op.create_index("ix_assignments_state", "assignments", ["state"])


def downgrade():
    op.drop_index("ix_assignments_state", "assignments")
    op.drop_index("ix_assignments_inbox", "assignments")
    with op.batch_alter_table("assignments") as b:
        for c in ("summary", "inbox_state", "intake_state", "queue_reason", "objection_reason", "state_since",
                  "owner_leader", "co_unit_ids", "reason", "chosen_by", "rule_id", "mode", "stage", "state"):
            b.drop_column(c)
    op.drop_table("rules")

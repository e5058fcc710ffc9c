"""Distribution (issue #14): agent status, the distribution settings, distributed items.

``agent_presence`` is one row per agent with a status (its partial index holds the available
agents, distribution's candidates); ``distribution_settings`` is one row (id 1);
``distributed_items`` remembers what distribution gave to whom, so that an agent going away
gives back only what they were given and have not started.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_AVAILABLE = sa.text("status = 'available'")


def upgrade():
    op.create_table(
        "agent_presence",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "available",
                "in_call",
                "break",
                "training",
                "signed_out",
                name="agentstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by_system", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_presence_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_presence")),
    )
    with op.batch_alter_table("agent_presence", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agent_presence_available",
            ["seen_at"],
            unique=False,
            postgresql_where=_AVAILABLE,
            sqlite_where=_AVAILABLE,
        )

    op.create_table(
        "distribution_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "mode",
            sa.Enum(
                "off",
                "round_robin",
                "least_loaded",
                name="distributionmode",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("emails", sa.Boolean(), nullable=False),
        sa.Column("callbacks", sa.Boolean(), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_settings")),
    )

    op.create_table(
        "distributed_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(case_id IS NULL) <> (callback_id IS NULL)",
            name=op.f("ck_distributed_items_one_item"),
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_distributed_items_callback_id_callbacks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_distributed_items_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_distributed_items_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distributed_items")),
        sa.UniqueConstraint("callback_id", name=op.f("uq_distributed_items_callback_id")),
        sa.UniqueConstraint("case_id", name=op.f("uq_distributed_items_case_id")),
    )
    with op.batch_alter_table("distributed_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_distributed_items_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("distributed_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distributed_items_user_id"))
    op.drop_table("distributed_items")
    op.drop_table("distribution_settings")
    with op.batch_alter_table("agent_presence", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_agent_presence_available",
            postgresql_where=_AVAILABLE,
            sqlite_where=_AVAILABLE,
        )
    op.drop_table("agent_presence")

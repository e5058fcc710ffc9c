"""Calls from the telephony platform: call events, agent links (issue #14).

``calls`` is one row per platform call id, computed from its ``call_events`` (one row per call
and event kind: the idempotency key). ``call_integration_users`` marks the users whose tokens
may post call events; ``call_agents`` maps the platform's agent ids to users. A call links the
case logged from it (``calls.case_id``).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "call_integration_users",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_call_integration_users_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_call_integration_users")),
    )
    op.create_table(
        "call_agents",
        sa.Column("platform_agent_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_call_agents_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("platform_agent_id", name=op.f("pk_call_agents")),
    )
    with op.batch_alter_table("call_agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_agents_user_id"), ["user_id"], unique=False)

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_call_id", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("caller_e164", sa.String(length=20), nullable=True),
        sa.Column("caller_raw", sa.String(length=64), nullable=True),
        sa.Column("caller_hidden", sa.Boolean(), nullable=False),
        sa.Column("called_number", sa.String(length=64), nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("transferred_to_id", sa.Integer(), nullable=True),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_calls_agent_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["transferred_to_id"],
            ["users.id"],
            name=op.f("fk_calls_transferred_to_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_calls_case_id_cases"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("platform_call_id", name=op.f("uq_calls_platform_call_id")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_caller_e164"), ["caller_e164"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_ended_at"), ["ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_abandoned_at"), ["abandoned_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_case_id"), ["case_id"], unique=False)

    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("caller_e164", sa.String(length=20), nullable=True),
        sa.Column("caller_raw", sa.String(length=64), nullable=True),
        sa.Column("caller_hidden", sa.Boolean(), nullable=False),
        sa.Column("called_number", sa.String(length=64), nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("queue_wait_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_events_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_call_events_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
        sa.UniqueConstraint("call_id", "kind", name=op.f("uq_call_events_call_id")),
    )
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.create_index("ix_call_events_agent_id_id", ["agent_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_index("ix_call_events_agent_id_id")
    op.drop_table("call_events")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_case_id"))
        batch_op.drop_index(batch_op.f("ix_calls_abandoned_at"))
        batch_op.drop_index(batch_op.f("ix_calls_ended_at"))
        batch_op.drop_index(batch_op.f("ix_calls_agent_id"))
        batch_op.drop_index(batch_op.f("ix_calls_caller_e164"))
    op.drop_table("calls")
    with op.batch_alter_table("call_agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_agents_user_id"))
    op.drop_table("call_agents")
    op.drop_table("call_integration_users")

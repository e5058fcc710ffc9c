"""Callbacks as a worklist, their attempts and retry rules; the phone platform's queues
(issue #14).

``callbacks`` is one row per request to call someone back (always on a case); the partial index
on pending callbacks by due time serves the worklist and "ta nästa återuppringning".
``callback_requests`` is one row per request from outside a case (the platform, an e-service,
an abandoned call) with the callback it made or joined: the requester's reference is unique per
source and requester, so a request sent again makes nothing new.
``callback_rules`` holds the retry rules per case type (the row without one is the default).
``phone_queues`` says what an abandoned call in a queue leads to and its answer goal.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "callback_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_type_id", sa.Integer(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("min_gap_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "fallback",
            sa.Enum("none", "email", "letter", name="fallback", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("fallback_template_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_type_id"],
            ["case_types.id"],
            name=op.f("fk_callback_rules_case_type_id_case_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["fallback_template_id"],
            ["mail_templates.id"],
            name=op.f("fk_callback_rules_fallback_template_id_mail_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_rules")),
        sa.UniqueConstraint("case_type_id", name=op.f("uq_callback_rules_case_type_id")),
    )
    op.create_table(
        "phone_queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("case_type_id", sa.Integer(), nullable=True),
        sa.Column("abandoned_callback", sa.Boolean(), nullable=False),
        sa.Column("abandoned_min_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("answer_goal_seconds", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_type_id"],
            ["case_types.id"],
            name=op.f("fk_phone_queues_case_type_id_case_types"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_phone_queues_name")),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "reached",
                "exhausted",
                "cancelled",
                name="callbackstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "platform",
                "e_service",
                "call_form",
                "agent",
                "abandoned",
                name="callbacksource",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("platform_ref", sa.String(length=100), nullable=True),
        sa.Column("number_e164", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column(
            "fallback",
            sa.Enum("none", "email", "letter", name="fallback", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column(
            "fallback_done_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["users.id"],
            name=op.f("fk_callbacks_assigned_to_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_callbacks_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_callbacks_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
    )
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callbacks_assigned_to_id"), ["assigned_to_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_callbacks_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_callbacks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_callbacks_closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(
            "ix_callbacks_pending_number",
            ["number_e164"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            "ix_callbacks_letters",
            ["closed_at"],
            unique=False,
            postgresql_where=sa.text("fallback = 'letter' AND fallback_done_at IS NULL"),
            sqlite_where=sa.text("fallback = 'letter' AND fallback_done_at IS NULL"),
        )
        batch_op.create_index(
            "ix_callbacks_pending_due",
            ["due_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "platform",
                "e_service",
                "call_form",
                "agent",
                "abandoned",
                name="callbacksource",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_callback_requests_callback_id_callbacks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_callback_requests_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
        sa.UniqueConstraint(
            "source",
            "requested_by_id",
            "reference",
            name=op.f("uq_callback_requests_source"),
        ),
    )
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_requests_callback_id"), ["callback_id"], unique=False
        )
        batch_op.create_index(
            "uq_callback_requests_abandoned",
            ["reference"],
            unique=True,
            postgresql_where=sa.text("source = 'abandoned'"),
            sqlite_where=sa.text("source = 'abandoned'"),
        )

    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column(
            "result",
            sa.Enum(
                "reached",
                "no_answer",
                "left_message",
                "busy",
                "wrong_number",
                name="callbackresult",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"],
            ["users.id"],
            name=op.f("fk_callback_attempts_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_callback_attempts_callback_id_callbacks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
    )
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_attempts_callback_id"), ["callback_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_attempts_callback_id"))

    op.drop_table("callback_attempts")
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_index("uq_callback_requests_abandoned")
        batch_op.drop_index(batch_op.f("ix_callback_requests_callback_id"))

    op.drop_table("callback_requests")
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_callbacks_pending_due",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_callbacks_letters")
        batch_op.drop_index("ix_callbacks_pending_number")
        batch_op.drop_index(batch_op.f("ix_callbacks_closed_at"))
        batch_op.drop_index(batch_op.f("ix_callbacks_case_id"))
        batch_op.drop_index(batch_op.f("ix_callbacks_call_id"))
        batch_op.drop_index(batch_op.f("ix_callbacks_assigned_to_id"))

    op.drop_table("callbacks")
    op.drop_table("phone_queues")
    op.drop_table("callback_rules")

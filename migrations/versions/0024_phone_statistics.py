"""Per-call statistics imported from the phone platform (issue #14, phone statistics).

``call_statistics`` is one row per call (``calls.id``) holding what the platform's statistics
file said about it: start, queue, waited seconds, answered or abandoned, talk seconds, agent.
The call itself stays in ``calls`` (a call known from events is the same row); the reports read
the events' values first and these where the events have none. No index on ``started_at``:
the reports filter on the call's start (events' time or the file's), which no index serves.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "call_statistics",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_ref", sa.String(length=254), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_statistics_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_call_statistics_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_statistics")),
    )


def downgrade():
    op.drop_table("call_statistics")

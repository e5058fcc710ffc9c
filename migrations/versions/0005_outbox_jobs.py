"""The transactional outbox: work a change causes, committed with the change.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

UTCDateTime = sa.DateTime(timezone=True)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("state IN ('pending', 'running')")
FAILED = sa.text("state = 'failed'")


def upgrade():
    op.create_table(
        "outbox_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=80), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("run_after", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=True),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_jobs")),
    )
    op.create_index(
        "ix_outbox_jobs_unfinished",
        "outbox_jobs",
        ["state", "run_after"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )
    op.create_index(
        "ix_outbox_jobs_failed",
        "outbox_jobs",
        ["finished_at"],
        postgresql_where=FAILED,
        sqlite_where=FAILED,
    )


def downgrade():
    op.drop_index("ix_outbox_jobs_failed", table_name="outbox_jobs")
    op.drop_index("ix_outbox_jobs_unfinished", table_name="outbox_jobs")
    op.drop_table("outbox_jobs")

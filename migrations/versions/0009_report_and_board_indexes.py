"""Indexes for the overview board and the reports (from bench/README.md, Reports).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OPEN = sa.text("status <> 'closed'")
ROUTED = sa.text("kind = 'routed'")
RUNNING = sa.text("met_at IS NULL AND cancelled_at IS NULL")


def upgrade():
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])
    op.create_index(
        "ix_cases_open_board",
        "cases",
        ["channel", "department_id"],
        postgresql_include=[
            "assignee_id",
            "due_at",
            "at_risk_at",
            "callback_due_at",
            "callback_done_at",
        ],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index(
        "ix_activities_routed",
        "activities",
        ["case_id"],
        postgresql_where=ROUTED,
        sqlite_where=ROUTED,
    )
    op.create_index(
        "ix_case_goals_breached_running",
        "case_goals",
        ["breached_at"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )


def downgrade():
    op.drop_index("ix_case_goals_breached_running", table_name="case_goals")
    op.drop_index("ix_activities_routed", table_name="activities")
    op.drop_index("ix_cases_open_board", table_name="cases")
    op.drop_index("ix_cases_closed_at", table_name="cases")

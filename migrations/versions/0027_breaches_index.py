"""An index for the report's list of breached goals (issue #11).

``compliance.breaches`` lists the period's 100 latest breached goals (due time descending).
Without an index in that order it read every breached goal ever (26,000 of 55,000 rows at 1M
cases, 120–200 ms for a year) and sorted them; with it, the planner walks the goals latest
first and stops at the 100th of the period.

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_BREACHED = sa.text("breached_at IS NOT NULL AND cancelled_at IS NULL")


def upgrade():
    with op.batch_alter_table("case_goals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_goals_breaches_due",
            ["due_at"],
            unique=False,
            postgresql_where=_BREACHED,
            sqlite_where=_BREACHED,
        )


def downgrade():
    with op.batch_alter_table("case_goals", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_case_goals_breaches_due", postgresql_where=_BREACHED, sqlite_where=_BREACHED
        )

"""A day's cases per channel and local hour for the reports' volumes (issue #11, decision 112).

Kept with ``report_day_cases`` by the same job, under the same ``report_days`` row (its version,
bumped by the triggers of migration 0026 when a case's time received or channel changes).

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_day_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["day"],
            ["report_days.day"],
            name=op.f("fk_report_day_hours_day_report_days"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_day_hours")),
    )
    op.create_index("ix_report_day_hours_day", "report_day_hours", ["day"], unique=False)
    # Days counted before this table existed are counted again (their hours are missing).
    op.execute("UPDATE report_days SET built_version = NULL")


def downgrade():
    op.drop_index("ix_report_day_hours_day", table_name="report_day_hours")
    op.drop_table("report_day_hours")

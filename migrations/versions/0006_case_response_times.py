"""First-response times for the reports, measured when the answer is given.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_response_times",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("office_minutes", sa.Integer(), nullable=False),
        sa.Column("calendar_minutes", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_response_times_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_response_times")),
    )


def downgrade():
    op.drop_table("case_response_times")

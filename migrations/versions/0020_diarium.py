"""Diarium marking, diarier per nämnd and exports (issue #15).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "diaries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("endpoint_url", sa.String(500), nullable=False),
        sa.Column("signing_secret", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "diarium_departments",
        sa.Column("diarium_id", sa.Integer(), sa.ForeignKey("diaries.id"), primary_key=True),
        sa.Column(
            "department_id",
            sa.Integer(),
            sa.ForeignKey("departments.id"),
            primary_key=True,
            unique=True,
        ),
    )
    op.create_table(
        "case_diarium",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("marking", sa.String(20), nullable=False),
        sa.Column("marked_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("diarium_id", sa.Integer(), sa.ForeignKey("diaries.id")),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("diarienummer", sa.String(60)),
        sa.Column("registered_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_case_diarium_diarium_id", "case_diarium", ["diarium_id"])


def downgrade():
    op.drop_index("ix_case_diarium_diarium_id", table_name="case_diarium")
    op.drop_table("case_diarium")
    op.drop_table("diarium_departments")
    op.drop_table("diaries")

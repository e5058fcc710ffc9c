"""Linked and merged cases; the profile a reply's signature is made of.

``case_links`` holds two related cases once (lower id first). ``cases.merged_into_id`` points a
case merged away at the case that took over its mail and its reference's threading.
``users.title``, ``unit`` and ``phone`` sign a reply.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("other_case_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("case_id < other_case_id", name=op.f("ck_case_links_ordered")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_links_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["other_case_id"], ["cases.id"], name=op.f("fk_case_links_other_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_case_links_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint("case_id", "other_case_id", name=op.f("uq_case_links_case_id")),
    )
    op.create_index("ix_case_links_other_case_id", "case_links", ["other_case_id"])
    # Not in batch mode: SQLite would copy and drop the cases table, which the foreign keys
    # of every other table refer to. SQLite adds a column with its REFERENCES clause in place.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE cases ADD COLUMN merged_into_id INTEGER "
            "CONSTRAINT fk_cases_merged_into_id_cases REFERENCES cases (id)"
        )
    else:
        op.add_column("cases", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_cases_merged_into_id_cases"), "cases", "cases", ["merged_into_id"], ["id"]
        )
    op.add_column("cases", sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_merged_into_id", "cases", ["merged_into_id"])
    op.add_column("users", sa.Column("title", sa.String(length=120), nullable=True))
    op.add_column("users", sa.Column("unit", sa.String(length=120), nullable=True))
    op.add_column("users", sa.Column("phone", sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("unit")
        batch_op.drop_column("title")
    op.drop_index("ix_cases_merged_into_id", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        if op.get_bind().dialect.name != "sqlite":  # SQLite's goes with the column
            batch_op.drop_constraint("fk_cases_merged_into_id_cases", type_="foreignkey")
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_id")
    op.drop_index("ix_case_links_other_case_id", table_name="case_links")
    op.drop_table("case_links")

"""Secrecy on case types and cases (issue #15).

``case_types.secrecy_ground`` makes every case of the type secret; ``cases.secrecy_ground``
makes one case secret (who set it and when are kept beside it, the timeline and the audit log
keep the history). The search index keeps a copy of whether a case is secret
(``search_documents.secret``) so a text or person match can be narrowed without a join.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("case_types", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secrecy_ground", sa.String(length=20), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secrecy_ground", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("secrecy_set_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("secrecy_set_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_secrecy_set_by_id_users"), "users", ["secrecy_set_by_id"], ["id"]
        )
    # Not in batch mode: on SQLite that would rebuild the table and drop its FTS triggers.
    # No case is secret yet, so every existing document starts as not secret.
    op.add_column(
        "search_documents",
        sa.Column("secret", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade():
    op.drop_column("search_documents", "secret")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_secrecy_set_by_id_users"), type_="foreignkey")
        batch_op.drop_column("secrecy_set_at")
        batch_op.drop_column("secrecy_set_by_id")
        batch_op.drop_column("secrecy_ground")
    with op.batch_alter_table("case_types", schema=None) as batch_op:
        batch_op.drop_column("secrecy_ground")

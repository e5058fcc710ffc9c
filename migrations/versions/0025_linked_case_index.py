"""An index for a case page's related cases (issue #16).

``cases.relations.related`` looks up the cases whose ``linked_case_id`` is this case's id (merged
into it or linked to it). Without an index every case page read the whole table: 350–450 ms at
1M cases (found with ``bench/api_bench.py``). Partial: few cases are linked.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_LINKED = sa.text("linked_case_id IS NOT NULL")


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_linked_case_id",
            ["linked_case_id"],
            unique=False,
            postgresql_where=_LINKED,
            sqlite_where=_LINKED,
        )


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_cases_linked_case_id", postgresql_where=_LINKED, sqlite_where=_LINKED
        )

"""Finer statistics for contacts' names, so that a search by a common surname plans well
(issues #12, #16).

A search by name asks for the newest people whose name contains the word
(``name_lower LIKE '%larsson%' ORDER BY id DESC LIMIT 20``). PostgreSQL chooses between walking
the primary key backwards until twenty match (right for a common name) and collecting every
match through the trigram index, then sorting (right for a rare one) by how many names it
expects to match, which it reads off a sample of the column: the default hundred values. Among
the benchmark's 333,333 people that sample put "larsson" (11,152 people) at 49 and "andersson"
(11,010) at 9,942, so a search for Larsson checked the visibility of all 11,152 and took 74 ms in
the database against 1.7 ms for Andersson (bench/README.md, "Search at 1M cases (#12)").
A thousand values give a stable estimate; the column's ANALYZE then reads a larger sample
(still about a second for a third of a million people). SQLite has no such choice to make.

Revision ID: 0031
Revises: 0030
"""

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

STATISTICS = 1000


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE contacts ALTER COLUMN name_lower SET STATISTICS {STATISTICS}")
        op.execute("ANALYZE contacts")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE contacts ALTER COLUMN name_lower SET STATISTICS -1")

"""Sessions and sign-in: session generation, sign-in attempts (issue #13 items 8, 9, 10).

Revision ID: 0015
Revises: 0014
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

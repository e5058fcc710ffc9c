"""One automatic receipt per case, enforced by the database.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ACKNOWLEDGEMENT = sa.text("kind = 'acknowledgement'")


def upgrade():
    op.create_index(
        "uq_mail_messages_one_acknowledgement",
        "mail_messages",
        ["case_id"],
        unique=True,
        postgresql_where=ACKNOWLEDGEMENT,
        sqlite_where=ACKNOWLEDGEMENT,
    )


def downgrade():
    op.drop_index("uq_mail_messages_one_acknowledgement", table_name="mail_messages")

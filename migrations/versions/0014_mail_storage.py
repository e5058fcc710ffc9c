"""Mail stored first: content fingerprints, processing state of large messages.

A message is a duplicate only with the same Message-ID *and* the same content fingerprint
(mime/fingerprint.py), so the unique constraint on ``mail_messages.message_id`` becomes a
unique index on (message_id, fingerprint). Rows filed before have no fingerprint (NULL: not
constrained against each other, and the old constraint kept them unique by Message-ID); intake
computes theirs from the stored bytes when a new message shares their Message-ID. Large messages
are stored first with status 'pending' (no new column: ``attempts`` counts the tries).

SQLite drops a unique constraint by copying the table (batch mode; migrations/env.py switches
foreign-key enforcement off meanwhile, and the partial receipt index is copied with it).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.drop_constraint("uq_mail_messages_message_id", type_="unique")
        batch_op.create_index(
            "uq_mail_messages_message_fingerprint", ["message_id", "fingerprint"], unique=True
        )


def downgrade():
    messages = sa.table(
        "mail_messages",
        sa.column("id", sa.Integer),
        sa.column("message_id", sa.String),
        sa.column("status", sa.String),
        sa.column("reason", sa.Text),
    )
    # The older code knows no 'pending': such a message becomes one an admin can process again.
    op.execute(
        messages.update()
        .where(messages.c.status == "pending")
        .values(status="unreadable", reason="Väntade på behandling när systemet nedgraderades.")
    )
    # One row per Message-ID again: the oldest keeps it, later messages that reused it lose it
    # from the row (their stored bytes still carry it).
    older = sa.alias(messages, "older")
    op.execute(
        messages.update()
        .where(
            sa.exists().where(
                older.c.message_id == messages.c.message_id, older.c.id < messages.c.id
            )
        )
        .values(message_id=None)
    )
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_index("uq_mail_messages_message_fingerprint")
        batch_op.create_unique_constraint("uq_mail_messages_message_id", ["message_id"])
        batch_op.drop_column("fingerprint")

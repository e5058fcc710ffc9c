"""Mail trust: Authentication-Results, Reply-To kept on the message, receipt limits.

Mailboxes get the authserv-ids whose Authentication-Results they believe and what to do without
one (existing mailboxes: "verified", so a subject reference alone no longer lets anyone into a
case until an admin names the server); inbound messages keep their Reply-To address; granted
receipts are counted in the database under a lock row.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trusted_servers", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column(
                "sender_trust",
                sa.Enum("verified", "as_before", name="sendertrust", native_enum=False, length=20),
                nullable=False,
                server_default="verified",
            )
        )
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_to", sa.String(length=254), nullable=True))
    op.create_table(
        "mail_receipt_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_receipt_grants")),
    )
    with op.batch_alter_table("mail_receipt_grants", schema=None) as batch_op:
        batch_op.create_index("ix_mail_receipt_grants_address", ["address", "granted_at"])
        batch_op.create_index("ix_mail_receipt_grants_granted_at", ["granted_at"])
    op.create_table(
        "mail_receipt_lock",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_mail_receipt_lock")),
    )


def downgrade():
    op.drop_table("mail_receipt_lock")
    with op.batch_alter_table("mail_receipt_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_receipt_grants_granted_at")
        batch_op.drop_index("ix_mail_receipt_grants_address")
    op.drop_table("mail_receipt_grants")
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_column("reply_to")
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_column("sender_trust")
        batch_op.drop_column("trusted_servers")

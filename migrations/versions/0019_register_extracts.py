"""Register extract requests (GDPR art. 15) and correction/erasure decisions (issue #15).

A request covers every contact it found (``register_extract_contacts``); ``contact_id`` is the
first of them, None when we held nothing about the person. ``erasure_decisions`` records each
decision on a request for erasure (art. 17), granted or refused, with its legal ground.
Corrections (art. 16) are recorded in the audit log and on the cases' timelines.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "register_extract_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_register_extract_requests_contact_id", "register_extract_requests", ["contact_id"]
    )
    op.create_index(
        "ix_register_extract_requests_status",
        "register_extract_requests",
        ["status", "due_on"],
    )
    op.create_table(
        "register_extract_contacts",
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("register_extract_requests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index(
        "ix_register_extract_contacts_contact_id", "register_extract_contacts", ["contact_id"]
    )
    op.create_table(
        "erasure_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey("contacts.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("legal_ground", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("carried_out_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_erasure_decisions_contact_id", "erasure_decisions", ["contact_id"])


def downgrade():
    op.drop_index("ix_erasure_decisions_contact_id", table_name="erasure_decisions")
    op.drop_table("erasure_decisions")
    op.drop_index("ix_register_extract_contacts_contact_id", table_name="register_extract_contacts")
    op.drop_table("register_extract_contacts")
    op.drop_index("ix_register_extract_requests_status", table_name="register_extract_requests")
    op.drop_index("ix_register_extract_requests_contact_id", table_name="register_extract_requests")
    op.drop_table("register_extract_requests")

"""Retention rules, legal holds and gallring runs (issue #15).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ACTIVE_TYPE = sa.text("active AND case_type_id IS NOT NULL")
_ACTIVE_DEFAULT = sa.text("active AND case_type_id IS NULL")
_ACTIVE_HOLD = sa.text("released_at IS NULL")


def upgrade():
    op.create_table(
        "retention_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_type_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("decision_name", sa.String(length=200), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("decision_reference", sa.String(length=300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(mode = 'months' AND months > 0) OR (mode = 'inactual' AND months IS NULL)",
            name=op.f("ck_retention_rules_months_for_mode"),
        ),
        sa.ForeignKeyConstraint(
            ["case_type_id"],
            ["case_types.id"],
            name=op.f("fk_retention_rules_case_type_id_case_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_rules")),
    )
    op.create_index(
        "uq_retention_rules_active_type",
        "retention_rules",
        ["case_type_id"],
        unique=True,
        postgresql_where=_ACTIVE_TYPE,
        sqlite_where=_ACTIVE_TYPE,
    )
    op.create_index(
        "uq_retention_rules_active_default",
        "retention_rules",
        ["active"],
        unique=True,
        postgresql_where=_ACTIVE_DEFAULT,
        sqlite_where=_ACTIVE_DEFAULT,
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by_id", sa.Integer(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_legal_holds_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_legal_holds_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["released_by_id"], ["users.id"], name=op.f("fk_legal_holds_released_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("ix_legal_holds_case_id", "legal_holds", ["case_id"])
    op.create_index(
        "uq_legal_holds_active",
        "legal_holds",
        ["case_id"],
        unique=True,
        postgresql_where=_ACTIVE_HOLD,
        sqlite_where=_ACTIVE_HOLD,
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("sample", sa.JSON(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("last_case_id", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_retention_runs_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_table(
        "case_retention",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("inactual_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inactual_by_id", sa.Integer(), nullable=True),
        sa.Column("gallrad_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_retention_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["inactual_by_id"], ["users.id"], name=op.f("fk_case_retention_inactual_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["retention_rules.id"],
            name=op.f("fk_case_retention_rule_id_retention_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["retention_runs.id"], name=op.f("fk_case_retention_run_id_retention_runs")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_retention")),
    )
    op.create_index("ix_mail_attachments_blob_sha256", "mail_attachments", ["blob_sha256"])


def downgrade():
    op.drop_index("ix_mail_attachments_blob_sha256", table_name="mail_attachments")
    op.drop_table("case_retention")
    op.drop_table("retention_runs")
    op.drop_index("uq_legal_holds_active", table_name="legal_holds")
    op.drop_index("ix_legal_holds_case_id", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("uq_retention_rules_active_default", table_name="retention_rules")
    op.drop_index("uq_retention_rules_active_type", table_name="retention_rules")
    op.drop_table("retention_rules")

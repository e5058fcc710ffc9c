"""Search: a document per case, full-text and trigram indexes, identifier indexes.

PostgreSQL: a generated tsvector over the stems with a GIN index, and pg_trgm for misspelt
names. SQLite: FTS5 tables kept by triggers. Existing cases are indexed by
``flask search reindex --missing`` (the Procfile's release step runs it after the upgrade).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

STATUS = sa.Enum(
    "new", "open", "waiting", "closed", name="casestatus", native_enum=False, length=20
)


def upgrade():
    op.create_table(
        "search_documents",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("stems", sa.Text(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("case_type_id", sa.Integer(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("phone", "email", "visit", "web", name="channel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_search_documents_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["case_type_id"],
            ["case_types.id"],
            name=op.f("fk_search_documents_case_type_id_case_types"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_search_documents_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_search_documents")),
    )
    op.create_table(
        "search_name_words",
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_search_name_words")),
    )
    op.create_index("ix_contacts_personnummer", "contacts", ["personnummer"])
    op.create_index("ix_contacts_organisation_number", "contacts", ["organisation_number"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "ALTER TABLE search_documents ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', stems)) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
        op.execute(
            "CREATE INDEX ix_contacts_name_trgm ON contacts USING gin (name_lower gin_trgm_ops)"
        )
        op.execute(
            "CREATE INDEX ix_search_name_words_trgm ON search_name_words "
            "USING gin (word gin_trgm_ops)"
        )
        return
    # SQLite: external-content FTS5 tables, kept in step by triggers in the same transaction.
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5(stems, content='search_documents', "
        "content_rowid='case_id', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(
        "CREATE TRIGGER search_fts_ai AFTER INSERT ON search_documents BEGIN "
        "INSERT INTO search_fts(rowid, stems) VALUES (new.case_id, new.stems); END"
    )
    op.execute(
        "CREATE TRIGGER search_fts_ad AFTER DELETE ON search_documents BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, stems) "
        "VALUES ('delete', old.case_id, old.stems); END"
    )
    op.execute(
        "CREATE TRIGGER search_fts_au AFTER UPDATE ON search_documents BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, stems) "
        "VALUES ('delete', old.case_id, old.stems); "
        "INSERT INTO search_fts(rowid, stems) VALUES (new.case_id, new.stems); END"
    )
    op.execute(
        "CREATE VIRTUAL TABLE name_words_fts USING fts5(word, content='search_name_words', "
        "tokenize='trigram')"
    )
    op.execute(
        "CREATE TRIGGER name_words_fts_ai AFTER INSERT ON search_name_words BEGIN "
        "INSERT INTO name_words_fts(rowid, word) VALUES (new.rowid, new.word); END"
    )
    op.execute(
        "CREATE TRIGGER name_words_fts_ad AFTER DELETE ON search_name_words BEGIN "
        "INSERT INTO name_words_fts(name_words_fts, rowid, word) "
        "VALUES ('delete', old.rowid, old.word); END"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_contacts_name_trgm")
    else:
        for trigger in ("name_words_fts_ai", "name_words_fts_ad"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS name_words_fts")
        for trigger in ("search_fts_ai", "search_fts_ad", "search_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index("ix_contacts_organisation_number", table_name="contacts")
    op.drop_index("ix_contacts_personnummer", table_name="contacts")
    op.drop_table("search_name_words")
    op.drop_table("search_documents")

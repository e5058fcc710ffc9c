"""The search index: one document per case, kept in the transaction that changes the case.

``body`` is the case's searchable text (summary, resolution, notes, e-mail subjects and bodies,
the contact's name and address), kept for the hit list's snippets; ``stems`` is the same text
as Swedish stems (:mod:`kontaktcenter.search.text`). Migration 0010 adds, for PostgreSQL, the
generated ``tsv`` column with its GIN index and a trigram index on contact names; for SQLite,
FTS5 tables over the stems and over the names, kept by triggers. Those are not mapped.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.core.extensions import UNMAPPED_PREFIXES, Model, UTCDateTime, str_enum, utcnow

# PostgreSQL: search_documents.tsv and its GIN index, the trigram indexes on contact names and
# on the name words. SQLite: search_fts and name_words_fts with their shadow tables, triggers.
UNMAPPED_PREFIXES.update(
    {
        "search_fts",
        "name_words_fts",
        "tsv",
        "ix_search_documents_tsv",
        "ix_contacts_name_trgm",
        "ix_search_name_words_trgm",
    }
)

FILTER_COLUMNS = ("department_id", "case_type_id", "channel", "status", "received_at")
MAX_BODY = 100_000  # characters of a case's text that are searchable (long mail threads)


class SearchDocument(Model):
    __tablename__ = "search_documents"

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    body: Mapped[str] = mapped_column(sa.Text)
    stems: Mapped[str] = mapped_column(sa.Text)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Copies of the case's columns that narrow a search (who may see it, the filters), so a
    # ranked search reads this table alone and joins the cases of one page only.
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    case_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_types.id"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Whether the case is secret (its own ground or its case type's): a text or person match
    # on a secret case routed to a department is shown to that department only.
    secret: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class NameWord(Model):
    """Every word of every contact's name, once: a misspelt name is matched against these few
    (trigram similarity) and the people are then found by the words it resembles. Ranking a
    million names by similarity costs what this table saves."""

    __tablename__ = "search_name_words"

    word: Mapped[str] = mapped_column(sa.String(100), primary_key=True)

"""People in search: by an identifier, or by a name typed with or without a mistake.

A handler finds only people with a case the handler may see
(`cases.contacts.visible_contacts_clause`, the contact page's rule too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.contacts import visible_contacts_clause
from kontaktcenter.cases.enums import ContactKind
from kontaktcenter.cases.models import Case, Contact, display_name, masked_personnummer
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User
from kontaktcenter.search.bound import once
from kontaktcenter.search.models import NameWord
from kontaktcenter.search.parsing import Kind, Query
from kontaktcenter.search.text import similarity, word_similarity, words

CONTACTS = 10
NAME_THRESHOLD = 0.45  # trigram similarity: "Sundkvist" ~ "Sundqvist" is 0.54
NAME_CASES_FROM = 20  # cases of at most this many best-matching people join the hit list


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A person found, as the hit list and the API show them: a Contact's columns as a plain
    row (no ORM object: a search by name reads 20 of them, #12/#16), with the same
    ``display_name`` and ``personnummer_masked``."""

    id: int
    kind: ContactKind
    name: str | None
    name_lower: str | None
    phone: str | None
    phone_e164: str | None
    email: str | None
    organisation_number: str | None
    personnummer: str | None

    @property
    def personnummer_masked(self) -> str | None:
        return masked_personnummer(self.personnummer)

    @property
    def display_name(self) -> str:
        return display_name(self.name, self.phone, self.email)


_CONTACTS = cast(
    sa.Select[Any],
    sa.select(
        Contact.id,
        Contact.kind,
        Contact.name,
        Contact.name_lower,
        Contact.phone,
        Contact.phone_e164,
        Contact.email,
        Contact.organisation_number,
        Contact.personnummer,
    ),
)


def _rows(query: sa.Select[Any], params: dict[str, Any]) -> list[ContactRow]:
    return [ContactRow(*row) for row in db.session.execute(query, params)]


def findable_clause(user: User) -> sa.ColumnElement[bool]:
    """The people a search may show `user`: those `visible_contacts_clause` allows, unless
    every case of theirs is a secret one of a department the user is not in (finding them
    would tell that they are its party). Built once per access.access_key."""
    return access.built(
        ("findable", *access.access_key(user)),
        lambda: sa.and_(
            visible_contacts_clause(user),
            sa.or_(
                ~sa.exists().where(Case.contact_id == Contact.id),
                sa.exists().where(
                    Case.contact_id == Contact.id,
                    access.visible_clause(user),
                    access.content_visible_clause(user),
                ),
            ),
        ),
    )


def by_identifier(user: User, query: Query) -> list[ContactRow]:
    column = _IDENTIFIER_COLUMNS.get(query.kind)
    if column is None and not query.phone:
        return []
    has_phone = bool(query.phone)

    def build() -> sa.Select[Any]:
        conditions: list[sa.ColumnElement[bool]] = []
        if column is not None:
            conditions.append(column == sa.bindparam("identifier", type_=sa.String))
        if has_phone:
            conditions.append(Contact.phone_e164 == sa.bindparam("phone", type_=sa.String))
        return (
            _CONTACTS.where(sa.or_(*conditions), findable_clause(user))
            .order_by(Contact.id.desc())
            .limit(CONTACTS * 5)
        )

    key = ("by identifier", query.kind.value, has_phone, *access.access_key(user))
    return _rows(once(key, build), {"identifier": query.value, "phone": query.phone})


_IDENTIFIER_COLUMNS: dict[Kind, Any] = {
    Kind.EMAIL: Contact.email,
    Kind.PERSONNUMMER: Contact.personnummer,
    Kind.ORGANISATION_NUMBER: Contact.organisation_number,
}


def by_name(user: User, text: str) -> list[tuple[ContactRow, float]]:
    """People whose name has, for every word of the query, that word or a word like it,
    best first. The words are looked up among the distinct words of names (a small table with
    a trigram index), so a common or misspelt surname never ranks a million names."""
    typed = [w for w in words(text) if len(w) >= 2][:4]
    if not typed or max(len(w) for w in typed) < 3:
        return []
    counts: list[int] = []
    params: dict[str, str] = {}
    for i, word in enumerate(typed):
        alternatives = _name_words_like(word)
        if not alternatives:
            return []  # a word like no name: nobody matches every word
        counts.append(len(alternatives))
        params.update({f"name_{i}_{j}": f"%{a}%" for j, a in enumerate(alternatives)})

    def build() -> sa.Select[Any]:
        # Per word: its name contains one of the word's alternatives.
        conditions = [
            sa.or_(
                *(
                    Contact.name_lower.like(sa.bindparam(f"name_{i}_{j}", type_=sa.String))
                    for j in range(n)
                )
            )
            for i, n in enumerate(counts)
        ]
        return (
            _CONTACTS.where(*conditions, findable_clause(user))
            .order_by(Contact.id.desc())
            .limit(NAME_CASES_FROM)
        )

    key = ("by name", tuple(counts), *access.access_key(user))
    contacts = _rows(once(key, build), params)
    needle = " ".join(typed)
    scored = [(c, word_similarity(needle, c.name_lower or "")) for c in contacts]
    scored.sort(key=lambda item: (-item[1], -item[0].id))
    return scored


def _name_words_like_statement() -> sa.Select[Any]:
    """PostgreSQL: the alike and the beginning with it, built once (its cache key once too).
    similarity() >= threshold is what `%` means; the operator lets the trigram index find the
    candidates at pg_trgm's default threshold (0.3), the filter keeps ours."""
    word = sa.bindparam("word", type_=sa.String)
    limit = sa.bindparam("limit", type_=sa.Integer)
    likeness = sa.func.similarity(NameWord.word, word)
    alike = (
        sa.select(NameWord.word, likeness.label("rank"))
        .where(NameWord.word.op("%")(word), likeness >= NAME_THRESHOLD)
        .order_by(likeness.desc(), NameWord.word)
        .limit(limit)
    )
    starting = (
        sa.select(NameWord.word, sa.literal(0.0).label("rank"))
        .where(NameWord.word.like(sa.bindparam("prefix", type_=sa.String)))
        .order_by(sa.func.length(NameWord.word), NameWord.word)
        .limit(limit)
    )
    both = sa.union_all(alike.subquery().select(), starting.subquery().select()).subquery()
    return sa.select(both.c.word, both.c.rank)


_NAME_WORDS_LIKE = _name_words_like_statement()


def _name_words_like(word: str, limit: int = 5) -> list[str]:
    """Name words that begin with `word` or resemble it (pg_trgm similarity), best first.
    Words are letters and digits only (text.words): no LIKE or FTS syntax in them."""
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            _NAME_WORDS_LIKE, {"word": word, "prefix": f"{word}%", "limit": limit}
        ).all()
        # The alike first, most alike first; then the longer words that begin with it.
        ranked = sorted(rows, key=lambda row: (-row.rank, len(row.word), row.word))
        return list(dict.fromkeys(row.word for row in ranked))
    # SQLite: words sharing a trigram (FTS5 trigram index), ranked here as pg_trgm would.
    grams = sorted({word[i : i + 3] for i in range(len(word) - 2)})
    if not grams:  # "Bo": too short for a trigram, so the words that are it or begin with it
        return list(
            db.session.scalars(
                sa.select(NameWord.word)
                .where(NameWord.word.like(f"{word}%"))
                .order_by(sa.func.length(NameWord.word), NameWord.word)
                .limit(limit)
            )
        )
    match = " OR ".join(f'"{g}"' for g in grams[:30])
    candidates: Sequence[str] = db.session.scalars(
        sa.select(sa.literal_column("word"))
        .select_from(sa.table("name_words_fts"))
        .where(sa.literal_column("name_words_fts").op("MATCH")(match))
        .limit(2000)
    ).all()
    scored = sorted(
        ((similarity(word, c), c) for c in candidates if similarity(word, c) >= NAME_THRESHOLD),
        key=lambda item: (-item[0], item[1]),
    )
    prefixed = sorted((c for c in candidates if c.startswith(word)), key=lambda c: (len(c), c))
    return list(dict.fromkeys([c for _s, c in scored[:limit]] + prefixed[:limit]))

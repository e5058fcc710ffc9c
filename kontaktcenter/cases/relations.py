"""What the case page shows of a case's relations: the cases merged into it, the cases it is
linked to, and one timeline over the case and the cases merged into it. Only cases the reader
may see are named (a link to another nämnd's case is not even counted)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.models import Activity, Case, CaseLink
from kontaktcenter.core.extensions import db, read_rows
from kontaktcenter.organisation.models import User

# How a related case is related, as the page says it.
LABELS = {
    "merged": "Sammanslaget hit",
    "linked": "Kopplat",
    "mentions": "Nämns i e-post till det här ärendet",
    "mentioned_by": "Nämner det här ärendet",
}


@dataclass(frozen=True)
class Related:
    case: Case
    how: str  # merged | linked | mentions | mentioned_by

    @property
    def label(self) -> str:
        return LABELS[self.how]

    @property
    def removable(self) -> bool:
        return self.how != "merged"


_CASE_ID = sa.bindparam("case_id", type_=sa.Integer)


# Whether anything relates to a case beyond its own `linked_case_id`: merged into it, linked
# either way, or mentioning it. Most cases have none; one statement instead of three for them.
def others_clause(case_id: sa.ColumnExpressionArgument[int]) -> sa.ColumnElement[bool]:
    """Whether any case relates to the case `case_id` (a column or a parameter): to read with
    the case itself (``case_reads.visible_case``)."""
    # A Core alias of the table (an ORM alias would configure the mappers at import): the
    # case is `case_id`'s row when that is a column of the cases table.
    other = Case.__table__.alias("other_cases")
    return sa.or_(
        sa.exists().where(other.c.merged_into_id == case_id),
        sa.exists().where(CaseLink.case_id == case_id),
        sa.exists().where(CaseLink.other_case_id == case_id),
        sa.exists().where(other.c.linked_case_id == case_id),
    )


_HAS_OTHERS = sa.select(others_clause(_CASE_ID))


def has_others(case: Case) -> bool:
    """Does any case relate to `case` (merged into it, linked, mentioning it)? Its own mention
    of another (`linked_case_id`) is read from the case itself."""
    return bool(db.session.scalar(_HAS_OTHERS, {"case_id": case.id}))


def merged_into_case(case: Case) -> list[Case]:
    """The cases merged into `case`, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Case)
            .where(Case.merged_into_id == case.id)
            .order_by(Case.received_at, Case.id)
        )
    )


def related(
    user: User, case: Case, merged: list[Case] | None = None, *, others: bool = True
) -> list[Related]:
    """The cases related to `case` that `user` may see, merged ones first. `others` False:
    the caller knows (has_others) that no other case relates to this one."""
    found: dict[int, str] = {}
    for absorbed in merged if merged is not None else merged_into_case(case):
        found[absorbed.id] = "merged"
    rows = (
        db.session.execute(
            sa.select(CaseLink.case_id, CaseLink.other_case_id).where(
                sa.or_(CaseLink.case_id == case.id, CaseLink.other_case_id == case.id)
            )
        ).all()
        if others
        else []
    )
    for a, b in rows:
        found.setdefault(b if a == case.id else a, "linked")
    if case.linked_case_id is not None:
        found.setdefault(case.linked_case_id, "mentions")
    mentioning: Iterable[int] = (
        db.session.scalars(sa.select(Case.id).where(Case.linked_case_id == case.id).limit(50))
        if others
        else []
    )
    for other in mentioning:
        found.setdefault(other, "mentioned_by")
    found.pop(case.id, None)
    if not found:
        return []
    cases = db.session.scalars(
        sa.select(Case)
        .where(Case.id.in_(sorted(found)), access.visible_clause(user))
        .order_by(Case.received_at, Case.id)
    ).all()
    order = list(LABELS)
    return sorted((Related(c, found[c.id]) for c in cases), key=lambda r: order.index(r.how))


# What the case page shows of an entry, as rows (not ORM activities with their actors as
# users: issue #16). Built once.
_ENTRIES = (
    sa.select(
        Activity.id,
        Activity.case_id,
        Activity.kind,
        Activity.created_at,
        Activity.text,
        Activity.data,
        Activity.actor_id,
        User.name.label("actor_name"),
        Case.reference.label("case_reference"),
    )
    .join(Case, Case.id == Activity.case_id)
    .outerjoin(User, User.id == Activity.actor_id)
)
_OWN_ENTRIES = _ENTRIES.where(Activity.case_id == sa.bindparam("case_id")).order_by(Activity.id)
_MERGED_ENTRIES = _ENTRIES.where(
    Activity.case_id.in_(sa.bindparam("ids", expanding=True))
).order_by(Activity.created_at, Activity.id)


def timeline(case: Case, merged: list[Case] | None = None) -> list[sa.Row[Any]]:
    """The case's activities and those of the cases merged into it, in the order they happened
    (a case's own in the order they were written): rows of id, case_id, kind, created_at,
    text, data, actor_id (None: the system), actor_name and case_reference."""
    absorbed = merged if merged is not None else merged_into_case(case)
    if not absorbed:
        return list(read_rows(_OWN_ENTRIES, {"case_id": case.id}))
    ids = [case.id] + [c.id for c in absorbed]
    return list(read_rows(_MERGED_ENTRIES, {"ids": ids}))


def candidates(user: User, case: Case, limit: int = 10) -> list[sa.Row[tuple[str, str]]]:
    """(reference, summary) of other cases of the same contact whose content `user` may see:
    offered when linking or merging. Never a secret case of another department (it would tell
    that this person is its party). Rows, not cases: the page shows two columns of each (#16).
    The statement is built once per reader's access (``access.built``), values bound."""
    if case.contact_id is None:
        return []
    statement = access.built(
        ("relations.candidates", access.access_key(user)),
        lambda: (
            sa.select(Case.reference, Case.summary)
            .where(
                Case.contact_id == sa.bindparam("contact_id"),
                Case.id != sa.bindparam("case_id"),
                Case.merged_into_id.is_(None),
                access.visible_clause(user),
                access.content_visible_clause(user),
            )
            .order_by(Case.received_at.desc(), Case.id.desc())
            .limit(sa.bindparam("limit"))
        ),
    )
    return list(
        read_rows(statement, {"contact_id": case.contact_id, "case_id": case.id, "limit": limit})
    )


def visible_references(user: User, activities: Iterable[Any]) -> set[str]:
    """Of the references the timeline names (links, merges), those `user` may see: a link to
    another nämnd's case does not name it."""
    named = {a.data.get("other") for a in activities if isinstance(a.data, dict)}
    named.discard(None)
    if not named:
        return set()
    return set(
        db.session.scalars(
            sa.select(Case.reference).where(
                Case.reference.in_(sorted(str(r) for r in named)), access.visible_clause(user)
            )
        )
    )

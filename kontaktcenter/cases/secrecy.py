"""Secrecy (sekretess) under the Public Access to Information and Secrecy Act (OSL, 2009:400).

A case is secret when it or its case type carries a ground: a provision of OSL chosen from
``GROUNDS``, the one list of the provisions a municipality's contact center meets (kept in
``organisation/secrecy_grounds.py``, below the case types that use it too). Who may see a
secret case's content is decided in ``cases/access.py`` (``sees_content``); here are the list,
the masking text and the use-case that sets or clears a case's own ground.
"""

from __future__ import annotations

from sqlalchemy.orm.exc import StaleDataError

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.core import audit
from kontaktcenter.core.errors import STALE_MESSAGE, Conflict, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import User
from kontaktcenter.organisation.secrecy_grounds import GROUNDS, choices, label

__all__ = ["GROUNDS", "MASK", "choices", "label", "masked_text", "set_secrecy"]

# What replaces a secret part where something must be shown in its place.
MASK = "[Sekretess]"


def masked_text(ground: str | None) -> str:
    """The sentence shown or sent instead of a secret part."""
    if ground:
        return f"Uppgiften omfattas av sekretess ({ground})"
    return "Uppgiften omfattas av sekretess"


def set_secrecy(
    case: Case, by: User, ground: str | None, expected_version: int | None = None
) -> Case:
    """Set (a ground) or clear (None) the case's own secrecy, on the timeline and in the audit
    log, in one transaction. The case type's secrecy stays: it is changed on the case type."""
    ground = (ground or "").strip() or None
    access.ensure(by, "secrecy", case)
    if ground is not None and ground not in GROUNDS:
        raise ValidationError("Välj en sekretessgrund ur listan.", "ground")
    if expected_version is not None and expected_version != case.version:
        raise Conflict(STALE_MESSAGE)
    if case.is_merged:
        raise ValidationError("Ärendet är sammanslaget med ett annat. Ändra sekretessen där.")
    previous = case.secrecy_ground
    if previous == ground:
        return case
    case.secrecy_ground = ground
    case.secrecy_set_by = by
    case.secrecy_set_at = utcnow()
    add_activity(case, ActivityKind.SECRECY_CHANGED, by, secrecy=ground, previous=previous)
    try:
        audit.record(by, "secrecy_changed", case, ground=ground, previous=previous)  # commits
    except StaleDataError:
        db.session.rollback()
        raise Conflict(STALE_MESSAGE) from None
    except Exception:
        db.session.rollback()
        raise
    return case

"""The daily contact list for SKR's service survey: who contacted the municipality on a day, by
which channel, about what (date, channel, phone number or e-mail address, case type).

It holds personal data, so only managers and admins may export it, and every export is written
to the audit log with the day and the number of rows. Contacts without a phone number or an
e-mail address cannot be surveyed and are left out; each address is listed once a day.
A secret case of a department the exporter does not belong to is left out too: its party's
number next to its case type is what the secrecy protects (cases.access.sees_content).
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.core import audit
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import CaseType, User
from kontaktcenter.reports.export import csv_bytes
from kontaktcenter.reports.periods import local_midnight

HEADER = ("datum", "kanal", "telefon", "e-post", "ärendetyp")


def rows(day: date, viewer: User | None = None) -> list[tuple[str, str, str, str, str]]:
    """The day's list; for `viewer` (an export), without the secret cases they may not read."""
    query = (
        sa.select(Case.channel, Contact.phone_e164, Contact.email, CaseType.name)
        .join(Contact, Contact.id == Case.contact_id)
        .outerjoin(CaseType, CaseType.id == Case.case_type_id)
        .where(
            Case.received_at >= local_midnight(day),
            Case.received_at < local_midnight(day + timedelta(days=1)),
            sa.or_(Contact.phone_e164.is_not(None), Contact.email.is_not(None)),
        )
        .order_by(Case.received_at, Case.id)
    )
    if viewer is not None:
        query = query.where(access.content_visible_clause(viewer))
    seen: set[tuple[str, str]] = set()
    result = []
    for channel, phone, email, case_type in db.session.execute(query):
        key = (phone or "", email or "")
        if key in seen:
            continue
        seen.add(key)
        label = channel.label if isinstance(channel, Channel) else str(channel)
        result.append((day.isoformat(), label, phone or "", email or "", case_type or ""))
    return result


def export(day: date, by: User) -> bytes:
    listed = rows(day, viewer=by)
    audit.record(by, "export_contact_list", day=day.isoformat(), rows=len(listed))
    return csv_bytes(HEADER, listed)

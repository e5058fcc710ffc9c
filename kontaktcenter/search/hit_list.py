"""The search page's hit lists, made ready in Python: each case's link, its line of register
fields and its snippet, each person's link and line of details, as escaped markup, so the
template writes a handful of values per hit.

Jinja resolved ~15 attributes, escaped ~12 values and ran the `dt`, `masked` and `truncate`
filters and the `sees_content` global per hit, yielding each piece through three generators:
about half of a search page's Python calls were the hit list (#12, #16). The markup is the
same as the template made it (tests/test_search_hit_list.py compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from jinja2.filters import do_truncate
from markupsafe import Markup, escape

from kontaktcenter.cases import access, secrecy
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.core.templating import format_datetime, id_url, tel_href
from kontaktcenter.organisation.models import User
from kontaktcenter.search.results import ContactHit, RowHit
from kontaktcenter.search.text import Fragment

# Escaped with markupsafe.escape, joined with f-strings: Markup.format and Markup's % run a
# Python formatter per field, which cost more than the template did.


@dataclass(frozen=True, slots=True)
class HitLine:
    href: str
    reference: str
    meta: Markup  # channel · received · case type · department · status
    secret: str | None  # the sentence shown instead of the content, or None: content shown
    contact_name: str | None
    snippet: Markup


def hit_lines(hits: list[RowHit], user: User) -> list[HitLine]:
    env = current_app.jinja_env
    lines = []
    for hit in hits:
        case = hit.case
        meta = Markup(
            f"{escape(case.channel.label)} · "
            f'<span class="nowrap">{escape(format_datetime(case.received_at))}</span> ·\n'
            f"        {escape(case.case_type.name if case.case_type else 'Ingen ärendetyp')} ·\n"
            f"        {escape(case.department.name if case.department else 'Kontaktcenter')}"
            f" · {escape(case.status.label)}"
        )
        shown = access.sees_content(user, case)  # type: ignore[arg-type]  # a CaseRow has what it reads
        lines.append(
            HitLine(
                href=id_url("cases.show", case_id=case.id),
                reference=case.reference,
                meta=meta,
                secret=None if shown else secrecy.masked_text(case.effective_secrecy_ground),
                contact_name=case.contact_name if shown else None,
                snippet=(
                    _snippet(hit.fragments)
                    if hit.fragments
                    else escape(do_truncate(env, mask_personnummer(case.summary), 160))
                )
                if shown
                else Markup(""),
            )
        )
    return lines


def _snippet(fragments: list[Fragment]) -> Markup:
    return Markup(
        "".join(
            f"<mark>{escape(f.text)}</mark>" if f.match else str(escape(f.text)) for f in fragments
        )
    )


@dataclass(frozen=True, slots=True)
class PersonLine:
    href: str
    name: str
    details: Markup  # phone (a tel: link when it is a number), e-mail, org. no., masked pnr


def person_lines(hits: list[ContactHit]) -> list[PersonLine]:
    lines = []
    for hit in hits:
        c = hit.contact
        details = ""
        if c.phone:
            href = f"tel:{c.phone_e164}" if c.phone_e164 else tel_href(c.phone)
            phone = (
                f'<a href="{escape(href)}" class="nowrap">{escape(c.phone)}</a>'
                if href
                else str(escape(c.phone))
            )
            details += f'<span class="muted"> · {phone}</span>'
        details += "\n      "
        if c.email:
            details += f'<span class="muted"> · {escape(c.email)}</span>'
        details += "\n      "
        if c.organisation_number:
            details += f'<span class="muted"> · {escape(c.organisation_number)}</span>'
        details += "\n      "
        if c.personnummer:
            details += f'<span class="muted"> · {escape(c.personnummer_masked)}</span>'
        lines.append(
            PersonLine(
                href=id_url("contacts.show", contact_id=c.id),
                name=c.display_name,
                details=Markup(details),
            )
        )
    return lines

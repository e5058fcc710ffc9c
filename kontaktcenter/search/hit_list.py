"""The search page's hit lists, written in Python: each case's link, its line of register
fields and its snippet, each person's link and line of details, as one escaped string per list.

Jinja resolved ~15 attributes, escaped ~12 values and ran the `dt`, `masked` and `truncate`
filters and the `sees_content` global per hit, yielding each piece through three generators:
about half of a search page's Python calls were the hit list (#12, #16). The markup is the
same as the template made it, byte for byte (tests/test_search_hit_list.py compares the two).
"""

from __future__ import annotations

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


def hit_items(hits: list[RowHit], user: User) -> Markup:
    """The hit list's items (the inside of its ``<ol>``), whitespace and all as the template
    wrote them: one string, where the template's loop yielded ~13 pieces per hit through three
    generators and looked up and escaped each field (#12)."""
    env = current_app.jinja_env
    parts = ["\n    "]
    for hit in hits:
        case = hit.case
        parts.append(
            f'\n    <li>\n      <a href="{escape(id_url("cases.show", case_id=case.id))}"'
            f' class="nowrap">{escape(case.reference)}</a>\n'
            f'      <span class="muted">{escape(case.channel.label)} · '
            f'<span class="nowrap">{escape(format_datetime(case.received_at))}</span> ·\n'
            f"        {escape(case.case_type.name if case.case_type else 'Ingen ärendetyp')} ·\n"
            f"        {escape(case.department.name if case.department else 'Kontaktcenter')}"
            f" · {escape(case.status.label)}</span>\n      \n      "
        )
        if not access.sees_content(user, case):  # type: ignore[arg-type]  # a CaseRow has what it reads
            masked = escape(secrecy.masked_text(case.effective_secrecy_ground))
            parts.append(
                f'<p class="snippet secret"><span aria-hidden="true">🔒</span> {masked}</p>\n      '
            )
        else:
            if case.contact_name:
                parts.append(f"<br>{escape(case.contact_name)}")
            snippet = (
                _snippet(hit.fragments)
                if hit.fragments
                else escape(do_truncate(env, mask_personnummer(case.summary), 160))
            )
            parts.append(f'\n      <p class="snippet">{snippet}</p>\n      ')
        parts.append("\n    </li>\n    ")
    parts.append("\n  ")
    return Markup("".join(parts))


def _snippet(fragments: list[Fragment]) -> Markup:
    return Markup(
        "".join(
            f"<mark>{escape(f.text)}</mark>" if f.match else str(escape(f.text)) for f in fragments
        )
    )


def person_items(hits: list[ContactHit]) -> Markup:
    """The people found (the inside of their ``<ul>``), as the template wrote them: each
    person's link, then their phone (a tel: link when it is a number), e-mail, organisation
    number and masked personnummer."""
    parts = ["\n    "]
    for hit in hits:
        c = hit.contact
        href = escape(id_url("contacts.show", contact_id=c.id))
        parts.append(f'\n    <li><a href="{href}">{escape(c.display_name)}</a>\n      ')
        if c.phone:
            tel = f"tel:{c.phone_e164}" if c.phone_e164 else tel_href(c.phone)
            phone = (
                f'<a href="{escape(tel)}" class="nowrap">{escape(c.phone)}</a>'
                if tel
                else str(escape(c.phone))
            )
            parts.append(f'<span class="muted"> · {phone}</span>')
        parts.append("\n      ")
        if c.email:
            parts.append(f'<span class="muted"> · {escape(c.email)}</span>')
        parts.append("\n      ")
        if c.organisation_number:
            parts.append(f'<span class="muted"> · {escape(c.organisation_number)}</span>')
        parts.append("\n      ")
        if c.personnummer:
            parts.append(f'<span class="muted"> · {escape(c.personnummer_masked)}</span>')
        parts.append("\n    </li>\n    ")
    parts.append("\n  ")
    return Markup("".join(parts))

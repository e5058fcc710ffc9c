"""The case page's aside ("Kontakt", "Servicemål", "Uppgifter", "Direktnummer"), written in
Python (issue #16).

In the template these four panels looked up some sixty attributes through Jinja and escaped
each value through a generator: ~700 of a case page's ~7,400 Python calls. The markup is what
the template made, but for whitespace next to block elements, which shows nowhere
(tests/test_case_aside.py keeps the old template and compares the two over every branch,
spaces beside inline elements included). Every value is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from kontaktcenter.cases.models import Case
from kontaktcenter.core.templating import id_url, public_tel_href, tel_href, when
from kontaktcenter.goals.models import UNIT_LABELS, GoalState
from kontaktcenter.workspace.queue_rows import goal_state_badge

_UNITS = {unit.value: label for unit, label in UNIT_LABELS.items()}
_GOALS_HEAD = (
    '<section class="panel" aria-labelledby="goals-h"><h2 id="goals-h">Servicemål</h2><table>'
    '<caption class="visually-hidden">Servicemål för ärendet</caption><thead><tr>'
    '<th scope="col">Mål</th><th scope="col">Senast</th><th scope="col">Läge</th></tr>'
    "</thead><tbody>"
)


def _or(value: Any, default: str) -> str:
    """``{{ value or default }}``."""
    return str(escape(value)) if value else default


def contact_section(case: Case, revealed: bool) -> Markup:
    """ "Kontakt": the case's contact (its personnummer masked unless `revealed`, with the
    form that reveals it and logs that it did), or "Anonym kontakt"."""
    c = case.contact
    if c is None:
        body = "<p>Anonym kontakt.</p>"
    else:
        phone = c.phone
        if phone:
            href = tel_href(c.phone_e164 or phone)
            shown = escape(phone)
            phone_html = (
                f'<a href="{escape(href)}" class="nowrap">{shown}</a>'
                if href
                else f'<span class="nowrap">{shown}</span>'
            )
        else:
            phone_html = "–"
        parts = [
            f'<dl class="facts"><dt>Namn</dt><dd>{_or(c.name, "–")}</dd>'
            f"<dt>Typ</dt><dd>{escape(c.kind.label)}</dd>"
            f"<dt>Telefon</dt><dd>{phone_html}</dd>"
            f"<dt>E-post</dt><dd>{_or(c.email, '–')}</dd>"
        ]
        if c.organisation_number:
            parts.append(f'<dt>Org.nr</dt><dd class="nowrap">{escape(c.organisation_number)}</dd>')
        if c.personnummer:
            number = c.personnummer if revealed else c.personnummer_masked
            parts.append(f'<dt>Personnummer</dt><dd><span class="nowrap">{escape(number)}</span>')
            if not revealed:
                # The spaces are the template's: the form is inline, so "Visa (loggas)" stands
                # a space after the number.
                action = id_url("cases.reveal_personnummer", case_id=case.id)
                parts.append(
                    f' <form method="post" action="{escape(action)}" class="inline"> '
                    f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}"> '
                    '<button type="submit" class="link-button">Visa (loggas)</button></form>'
                )
            parts.append("</dd>")
        parts.append("</dl>")
        body = "".join(parts)
    return Markup(
        '<section class="panel" aria-labelledby="contact-h"><h2 id="contact-h">Kontakt</h2>'
        f"{body}</section>"
    )


def facts_sections(
    case: Case,
    goals: Sequence[tuple[Any, GoalState]],
    assignee_name: str | None,
    registrar_name: str | None,
) -> Markup:
    """ "Servicemål" (when the case has goals: each with its deadline and state), "Uppgifter"
    and, for a case with a type, "Direktnummer"."""
    parts = []
    if goals:
        parts.append(_GOALS_HEAD)
        for goal, state in goals:
            definition = goal.definition
            met = f'<br><span class="muted">{when(goal.met_at)}</span>' if goal.met_at else ""
            parts.append(
                f'<tr><th scope="row">{escape(goal.target.label)}<br><span class="muted">'
                f"{escape(definition.get('amount', ''))} "
                f"{escape(_UNITS.get(definition.get('unit'), ''))}</span></th>"
                f"<td>{when(goal.due_at, True)}</td>"
                f"<td>{goal_state_badge(state)}{met}</td></tr>"
            )
        parts.append("</tbody></table></section>")
    outcome = escape(case.outcome.label) if case.outcome else "–"
    referred = f" ({escape(case.referred_to)})" if case.referred_to else ""
    callback = ""
    if case.callback_due_at:
        done = (
            f"senast {when(case.callback_due_at)}"
            if case.callback_pending
            else f"klar {when(case.callback_done_at)}"
        )
        callback = f"<dt>Återuppringning</dt><dd>{done}</dd>"
    parts.append(
        '<section class="panel" aria-labelledby="facts-h"><h2 id="facts-h">Uppgifter</h2>'
        f'<dl class="facts"><dt>Mottaget</dt><dd>{when(case.received_at)}</dd>'
        f"<dt>Första svar</dt><dd>{when(case.first_response_at)}</dd>"
        f"<dt>Utfall</dt><dd>{outcome}{referred}</dd>"
        f"<dt>Handläggs av</dt><dd>{_or(assignee_name, 'Ingen')}</dd>{callback}"
        f"<dt>Registrerat av</dt><dd>{_or(registrar_name, 'Systemet')}</dd></dl></section>"
    )
    t = case.case_type
    if t is not None:
        if t.direct_number:
            href = public_tel_href(t.direct_number)
            number = escape(t.direct_number)
            link = (
                f'<a href="{escape(href)}" class="number nowrap">{number}</a>'
                if href
                else f'<span class="number nowrap">{number}</span>'
            )
            shown = (
                f"{link}<br>{_or(t.direct_number_answered_by, '')}<br>"
                f'<span class="muted">{_or(t.direct_number_hours, "")}</span>'
            )
        else:
            shown = "Inget direktnummer."
        guidance = f"<h3>Vägledning</h3><p>{escape(t.guidance)}</p>" if t.guidance else ""
        parts.append(
            '<section class="panel" aria-labelledby="ct-h"><h2 id="ct-h">Direktnummer</h2>'
            f"<p>{shown}</p>{guidance}</section>"
        )
    return Markup("".join(parts))

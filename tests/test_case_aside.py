"""The case page's aside is written in Python (workspace/case_aside.py, issue #16): its HTML
must be what the template made. The template as it was is kept below and both render the same
cases: every branch of the contact, the goals, the facts and the direct number, with text that
needs escaping."""

# ruff: noqa: E501 (the old template below, kept as it was)
from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_wtf.csrf import generate_csrf

from kontaktcenter.cases.enums import CaseStatus, Channel, ContactKind, Outcome
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.core.templating import public_tel_href
from kontaktcenter.goals.models import UNIT_LABELS, GoalState, GoalTarget
from kontaktcenter.organisation.models import CaseType
from kontaktcenter.workspace import case_aside
from kontaktcenter.workspace.queue_rows import goal_state_badge

# The aside of templates/cases/show.html before the module (but the related cases' include).
OLD_ASIDE = """
  <section class="panel" aria-labelledby="contact-h">
    <h2 id="contact-h">Kontakt</h2>
    {% if case.contact %}{% set c = case.contact %}
      <dl class="facts">
        <dt>Namn</dt><dd>{{ c.name or '–' }}</dd>
        <dt>Typ</dt><dd>{{ c.kind.label }}</dd>
        <dt>Telefon</dt><dd>{% if c.phone %}{% set href = (c.phone_e164 or c.phone)|tel_href %}{% if href %}<a href="{{ href }}" class="nowrap">{{ c.phone }}</a>{% else %}<span class="nowrap">{{ c.phone }}</span>{% endif %}{% else %}–{% endif %}</dd>
        <dt>E-post</dt><dd>{{ c.email or '–' }}</dd>
        {% if c.organisation_number %}<dt>Org.nr</dt><dd class="nowrap">{{ c.organisation_number }}</dd>{% endif %}
        {% if c.personnummer %}<dt>Personnummer</dt><dd><span class="nowrap">{{ c.personnummer if revealed else c.personnummer_masked }}</span>
          {% if not revealed %}<form method="post" action="{{ url_for('cases.reveal_personnummer', case_id=case.id) }}" class="inline">
            <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
            <button type="submit" class="link-button">Visa (loggas)</button></form>{% endif %}</dd>{% endif %}
      </dl>
    {% else %}<p>Anonym kontakt.</p>{% endif %}
  </section>
  {% if case_goals %}
  <section class="panel" aria-labelledby="goals-h">
    <h2 id="goals-h">Servicemål</h2>
    <table>
      <caption class="visually-hidden">Servicemål för ärendet</caption>
      <thead><tr><th scope="col">Mål</th><th scope="col">Senast</th><th scope="col">Läge</th></tr></thead>
      <tbody>
      {% for goal, state in case_goals %}
        <tr>
          <th scope="row">{{ goal.target.label }}<br><span class="muted">{{ goal.definition.amount }} {{ unit_labels[goal.definition.unit] }}</span></th>
          <td>{{ when(goal.due_at, True) }}</td>
          <td>{{ goal_state_badge(state) }}{% if goal.met_at %}<br><span class="muted">{{ when(goal.met_at) }}</span>{% endif %}</td>
        </tr>
      {% endfor %}
      </tbody>
    </table>
  </section>
  {% endif %}
  <section class="panel" aria-labelledby="facts-h">
    <h2 id="facts-h">Uppgifter</h2>
    <dl class="facts">
      <dt>Mottaget</dt><dd>{{ when(case.received_at) }}</dd>
      <dt>Första svar</dt><dd>{{ when(case.first_response_at) }}</dd>
      <dt>Utfall</dt><dd>{{ case.outcome.label if case.outcome else '–' }}{% if case.referred_to %} ({{ case.referred_to }}){% endif %}</dd>
      <dt>Handläggs av</dt><dd>{{ assignee_name or 'Ingen' }}</dd>
      {% if case.callback_due_at %}<dt>Återuppringning</dt><dd>{% if case.callback_pending %}senast {{ when(case.callback_due_at) }}{% else %}klar {{ when(case.callback_done_at) }}{% endif %}</dd>{% endif %}
      <dt>Registrerat av</dt><dd>{{ registrar_name or 'Systemet' }}</dd>
    </dl>
  </section>
  {% if case.case_type %}{% set t = case.case_type %}
  <section class="panel" aria-labelledby="ct-h">
    <h2 id="ct-h">Direktnummer</h2>
    <p>{% if t.direct_number %}{% set href = t.direct_number|public_tel_href %}{% if href %}<a href="{{ href }}" class="number nowrap">{{ t.direct_number }}</a>{% else %}<span class="number nowrap">{{ t.direct_number }}</span>{% endif %}<br>{{ t.direct_number_answered_by or '' }}<br><span class="muted">{{ t.direct_number_hours or '' }}</span>{% else %}Inget direktnummer.{% endif %}</p>
    {% if t.guidance %}<h3>Vägledning</h3><p>{{ t.guidance }}</p>{% endif %}
  </section>
  {% endif %}
"""

ODD = "<b>Bygg & Miljö</b>"
NOW = utcnow().replace(microsecond=0)


# Values of transient objects (made in the tests: the mappers are configured by then).
CONTACTS: list[dict | None] = [
    None,
    {"name": "Sven Svensson", "phone": "070-123 45 67", "phone_e164": "+46701234567"},
    {"name": ODD, "phone": "inte ett nummer", "email": "sven@example.se"},
    {"phone": "070-123 45 67", "personnummer": "19121212-1212"},
    {"phone": ODD, "email": ODD, "personnummer": ODD},  # free text from intake: escaped
    {"phone": "070-123 45 67", "phone_e164": "+46709999999"},  # the link: the stored number
    {"kind": ContactKind.BUSINESS, "name": "Bygg AB", "organisation_number": "556677-8899"},
    {"name": None, "email": None, "personnummer": "19121212-1212", "organisation_number": ODD},
]
TYPES: list[dict | None] = [
    None,
    {
        "name": "Bygglov",
        "slug": "bygglov",
        "direct_number": "08-123 456 78",
        "direct_number_answered_by": "Bygglovsenheten",
        "direct_number_hours": "Mån–fre 9–12",
        "guidance": ODD,
    },
    {"name": "Övrigt", "slug": "ovrigt", "direct_number": "inte ett nummer"},
    {
        "name": "Konstigt",
        "slug": "konstigt",
        "direct_number": ODD,
        "direct_number_answered_by": ODD,
        "direct_number_hours": ODD,
    },
    {"name": "Ingen", "slug": "ingen", "direct_number": None, "guidance": None},
]


def _goal(target, due, met=None, unit="working_days", amount=2):
    definition = {"amount": amount, "unit": unit} if unit else {"amount": amount}
    return SimpleNamespace(target=target, definition=definition, due_at=due, met_at=met)


GOALS = [
    [],
    [
        (_goal(GoalTarget.FIRST_RESPONSE, NOW + timedelta(days=1)), GoalState.OK),
        (
            _goal(GoalTarget.CALLBACK, NOW - timedelta(hours=2), unit="calendar_hours"),
            GoalState.BREACHED,
        ),
        (
            _goal(GoalTarget.RESOLUTION, NOW, met=NOW - timedelta(hours=3), unit="unknown"),
            GoalState.MET,
        ),
        (_goal(GoalTarget.SECOND_LINE, NOW, unit=None), GoalState.AT_RISK),
        (_goal(GoalTarget.RESOLUTION, NOW, amount=ODD), GoalState.OK),
    ],
]


def _case(contact: dict | None, case_type: dict | None, **values) -> Case:
    case = Case(
        id=42,
        reference="KC-2026-000042",
        channel=Channel.PHONE,
        status=values.pop("status", CaseStatus.OPEN),
        received_at=NOW - timedelta(hours=5),
        **values,
    )
    if contact is not None:
        contact = dict(contact)
        case.contact = Contact(id=5, kind=contact.pop("kind", ContactKind.CITIZEN), **contact)
    if case_type is not None:
        case.case_type = CaseType(id=3, **case_type)
    return case


FACTS = [
    {},
    {"outcome": Outcome.REFERRED, "referred_to": ODD, "first_response_at": NOW},
    {"outcome": Outcome.ANSWERED, "callback_due_at": NOW + timedelta(hours=3)},
    {
        "callback_due_at": NOW - timedelta(hours=3),
        "callback_done_at": NOW - timedelta(hours=1),
    },
]


# Whitespace next to these shows nowhere; next to anything else (a link, a span, an inline
# form) it is a space on the page, and is compared.
_BLOCK = r"</?(?:section|h2|h3|dl|dt|dd|p|table|caption|thead|tbody|tr|th|td|br)\b[^>]*>"


def _old(app, **context) -> str:
    """OLD_ASIDE as the page rendered it, with the filter and global it used then (the page
    no longer needs them: they are not registered)."""
    env = app.jinja_env.overlay()
    env.filters["public_tel_href"] = public_tel_href
    env.globals["goal_state_badge"] = goal_state_badge
    return env.from_string(OLD_ASIDE).render(csrf_token=generate_csrf, **context)


def _normalised(html: str) -> str:
    collapsed = re.sub(r"\s+", " ", html).strip()
    return re.sub(rf"\s*({_BLOCK})\s*", r"\1", collapsed)


@pytest.mark.parametrize("contact", range(len(CONTACTS)))
@pytest.mark.parametrize("revealed", [False, True])
def test_the_contact_is_what_the_template_made(app, contact, revealed):
    case = _case(CONTACTS[contact], None)
    with app.test_request_context("/arenden/42"):
        old = _old(app, case=case, case_goals=[], revealed=revealed, **UNIT_CONTEXT)
        new = case_aside.contact_section(case, revealed) + case_aside.facts_sections(
            case, [], None, None
        )
    assert _normalised(new) == _normalised(old)
    assert "<b>" not in new
    if CONTACTS[contact] and CONTACTS[contact].get("personnummer") and not revealed:
        assert '</span> <form method="post"' in new  # "Visa (loggas)" a space after the number


UNIT_CONTEXT = {"unit_labels": {unit.value: label for unit, label in UNIT_LABELS.items()}}


@pytest.mark.parametrize("goals", range(len(GOALS)))
@pytest.mark.parametrize("facts", range(len(FACTS)))
@pytest.mark.parametrize("case_type", range(len(TYPES)))
@pytest.mark.parametrize("people", [(None, None), ("Hugo Bygg", ODD)])
def test_goals_facts_and_direct_number_are_what_the_template_made(
    app, goals, facts, case_type, people
):
    case = _case(CONTACTS[1], TYPES[case_type], **FACTS[facts])
    assignee, registrar = people
    with app.test_request_context("/arenden/42"):
        old = _old(
            app,
            case=case,
            case_goals=GOALS[goals],
            revealed=False,
            assignee_name=assignee,
            registrar_name=registrar,
            **UNIT_CONTEXT,
        )
        new = case_aside.contact_section(case, False) + case_aside.facts_sections(
            case, GOALS[goals], assignee, registrar
        )
    assert _normalised(new) == _normalised(old)
    assert "<b>" not in new

"""The case page's timeline is written in Python (workspace/timeline_html.py, issue #16): its
HTML must be what the template made. The template as it was is kept below and both render the
same entries: every kind, every branch of its data (missing keys, None, unknown values, text
that needs escaping), an entry of a merged case, a system entry."""

# ruff: noqa: E501 (the old template below, kept as it was)
from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

from flask import render_template_string

from kontaktcenter.cases import relations
from kontaktcenter.cases.enums import ActivityKind as K
from kontaktcenter.cases.enums import Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.channels.email.models import MailStatus
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.workspace.timeline_html import timeline_section
from tests.factories import make_case

# templates/cases/_timeline.html before this module
OLD_TIMELINE = """<section aria-labelledby="timeline-h">
  <h2 id="timeline-h">Händelser</h2>
  <ol class="timeline">
    {% for a in timeline %}
    <li{% if a.case_id != case.id %} class="from-merged"{% endif %}>
      <strong>{{ a.kind.label }}</strong>
      {% if a.kind == ActivityKind.HANDED_OFF %} till {% set href = a.data.number|tel_href %}{% if href %}<a href="{{ href }}" class="number">{{ a.data.number }}</a>{% else %}<span class="number">{{ a.data.number }}</span>{% endif %}{% if a.data.to %} ({{ a.data.to }}){% endif %}, {{ 'varm' if a.data.transfer == 'warm' else 'direkt' }} koppling{% endif %}
      {% if a.kind in (ActivityKind.ROUTED, ActivityKind.RETURNED) and a.data.department %} – {{ a.data.department }}{% endif %}
      {% if a.kind == ActivityKind.REFERRED %} – {{ a.data.authority }}{% endif %}
      {% if a.kind == ActivityKind.CALLBACK_BOOKED and a.data.due_at %} – senast {{ when(a.data.due_at|fromiso) }}{% endif %}
      {% if a.kind == ActivityKind.CALLBACK_REQUESTED and a.data.slot_to %} – önskad tid {{ when(a.data.slot_from|fromiso) }}–{{ when(a.data.slot_to|fromiso) }}{% endif %}
      {% if a.kind == ActivityKind.CALLBACK_ATTEMPT %} – {{ {'reached': 'nådde personen', 'no_answer': 'inget svar', 'busy': 'upptaget', 'left_message': 'lämnade röstmeddelande', 'wrong_number': 'fel nummer'}.get(a.data.result, a.data.result) }}{% endif %}
      {% if a.kind == ActivityKind.CLASSIFIED %} – {{ a.data.new }}{% endif %}
      {% if a.kind == ActivityKind.SECRECY_CHANGED %} – {% if a.data.secrecy %}sekretess enligt {{ a.data.secrecy }}{% else %}ärendets egen sekretess borttagen{% endif %}{% endif %}
      {% if a.kind == ActivityKind.ASSIGNED %} – {{ a.data.assignee or 'ingen' }}{% if a.data.via == 'distribution' %} ({% if a.data.callback %}återuppringningen{% if a.data.assignee %}, {% else %} {% endif %}{% endif %}{% if a.data.assignee %}av fördelningen{% else %}tillbaka i kön: handläggaren är inte tillgänglig{% endif %}){% endif %}{% endif %}
      {% if a.kind in (ActivityKind.MERGED, ActivityKind.MERGED_INTO, ActivityKind.LINKED, ActivityKind.UNLINKED) and a.data.other %} – {{ a.data.other if a.data.other in visible_references else 'ett ärende som du inte har tillgång till' }}{% if a.data.messages %} ({{ plural(a.data.messages, 'meddelande flyttat', 'meddelanden flyttade') }}){% endif %}{% endif %}
      {% if a.kind in (ActivityKind.EMAIL_QUEUED, ActivityKind.EMAIL_SENT) and a.data.recipient %} till {{ a.data.recipient }}{% endif %}
      {% if a.kind == ActivityKind.EMAIL_QUEUED and a.data.message in message_status %}{% set m = message_status[a.data.message] %}
        – {% if m.status == MailStatus.QUEUED %}<span class="badge badge-risk">i kö, skickas strax</span>{% elif m.status == MailStatus.FAILED %}<span class="badge badge-breached"><span aria-hidden="true">⚠</span> kunde inte skickas</span>{% else %}{{ m.status.label|lower }}{% endif %}
      {% endif %}
      {% if a.text %}<p>{{ a.text }}</p>{% endif %}
      <div class="meta">{{ when(a.created_at) }} · {{ a.actor.name if a.actor else 'Systemet' }}{% if a.case_id != case.id %} · <span class="nowrap">i {{ a.case.reference }}</span>{% endif %}</div>
    </li>
    {% endfor %}
  </ol>
</section>
"""

ODD = "<b>Bygg & Miljö</b>"
ENTRIES: list[tuple[K, str | None, dict]] = [
    (K.CREATED, None, {}),
    (K.NOTE, "Ringde <script>alert(1)</script> & frågade", {}),
    (K.CALL_LOGGED, None, {"number": "070-123 45 67"}),
    (K.HANDED_OFF, None, {"number": "08-123 456 78", "to": "Bygglov", "transfer": "warm"}),
    (K.HANDED_OFF, None, {"number": "inte ett nummer", "transfer": "blind"}),
    (K.HANDED_OFF, None, {"number": "08-123 456 78", "to": None}),
    (K.ROUTED, None, {"department": ODD}),
    (K.ROUTED, None, {}),
    (K.RETURNED, "Fel förvaltning", {"department": "Kontaktcenter"}),
    (K.REFERRED, None, {"authority": "Försäkringskassan"}),
    (K.REFERRED, None, {}),
    (K.CALLBACK_BOOKED, None, {"due_at": "2026-12-08T09:30:00+00:00"}),
    (K.CALLBACK_BOOKED, None, {"due_at": None}),
    (
        K.CALLBACK_REQUESTED,
        None,
        {"slot_from": "2026-12-08T08:00:00+00:00", "slot_to": "2026-12-08T10:00:00+00:00"},
    ),
    (K.CALLBACK_REQUESTED, None, {"slot_to": "2026-12-08T10:00:00+00:00"}),
    (K.CALLBACK_REQUESTED, None, {}),
    (K.CALLBACK_ATTEMPT, None, {"result": "reached"}),
    (K.CALLBACK_ATTEMPT, None, {"result": "wrong_number"}),
    (K.CALLBACK_ATTEMPT, None, {"result": "<odd>"}),
    (K.CALLBACK_ATTEMPT, None, {"result": None}),
    (K.CALLBACK_ATTEMPT, None, {}),
    (K.CALLBACK_DONE, None, {}),
    (K.CLASSIFIED, None, {"new": ODD}),
    (K.CLASSIFIED, None, {}),
    (K.SECRECY_CHANGED, None, {"secrecy": "OSL 26:1"}),
    (K.SECRECY_CHANGED, None, {"secrecy": None}),
    (K.ASSIGNED, None, {"assignee": "Anna Agent"}),
    (K.ASSIGNED, None, {"assignee": None}),
    (K.ASSIGNED, None, {}),
    (K.ASSIGNED, None, {"assignee": "Anna", "via": "distribution", "callback": True}),
    (K.ASSIGNED, None, {"assignee": None, "via": "distribution", "callback": True}),
    (K.ASSIGNED, None, {"assignee": "Anna", "via": "distribution"}),
    (K.ASSIGNED, None, {"via": "distribution"}),
    (K.MERGED, None, {"other": "KC-2026-000001", "messages": 1}),
    (K.MERGED_INTO, None, {"other": "KC-2026-000001"}),
    (K.LINKED, None, {"other": "KC-2026-999999", "messages": 1234}),
    (K.UNLINKED, None, {"other": None}),
    (K.UNLINKED, None, {}),
    (K.EMAIL_RECEIVED, None, {"recipient": "x@example.se"}),
    (K.EMAIL_SENT, None, {"recipient": "vera@example.se"}),
    (K.EMAIL_SENT, None, {}),
    (K.EMAIL_QUEUED, "Svar", {"recipient": "vera@example.se", "message": 1}),
    (K.EMAIL_QUEUED, None, {"message": 2}),
    (K.EMAIL_QUEUED, None, {"message": 3}),
    (K.EMAIL_QUEUED, None, {"message": 99}),
    (K.EMAIL_QUEUED, None, {}),
    (K.DELIVERY_FAILED, None, {"message": 2}),
    (K.LEGAL_HOLD, "Bevaras: <tvist>", {"set": True}),
]


def _norm(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def test_the_timeline_is_what_the_template_made(app, org):
    case = make_case(org.agent, org.bygglov, summary="Bygglov för altan")
    absorbed = make_case(org.agent, None, Outcome.ANSWERED, summary="Samma fråga")
    start = utcnow() - timedelta(days=2)
    for i, (kind, text, data) in enumerate(ENTRIES):
        entry = add_activity(case, kind, org.agent if i % 3 else None, text, **data)
        entry.created_at = start + timedelta(minutes=i)
    merged = add_activity(absorbed, K.NOTE, org.handler_bygg, "I det sammanslagna ärendet")
    merged.created_at = start + timedelta(hours=3)
    db.session.commit()
    timeline = list(
        db.session.scalars(
            db.select(Activity)
            .where(Activity.case_id.in_([case.id, absorbed.id]))
            .order_by(Activity.created_at, Activity.id)
        )
    )
    assert {a.kind for a in timeline} >= set(K) - {
        K.STATUS_CHANGED,
        K.CLOSED,
        K.REOPENED,
        K.ANSWERED,
        K.CALLBACK_EXHAUSTED,
        K.CALLBACK_LETTER_SENT,
        K.CALLBACK_CANCELLED,
        K.ACKNOWLEDGED,
        K.DIARIUM_MARKED,
        K.DIARIUM_REGISTERED,
        K.DECLARED_INACTUAL,
    }
    visible = {"KC-2026-000001"}
    status = {
        1: SimpleNamespace(status=MailStatus.QUEUED),
        2: SimpleNamespace(status=MailStatus.FAILED),
        3: SimpleNamespace(status=MailStatus.SENT),
    }
    with app.test_request_context():
        case = db.session.get_one(Case, case.id)
        old = render_template_string(
            OLD_TIMELINE,
            case=case,
            timeline=timeline,
            visible_references=visible,
            message_status=status,
        )
        rows = relations.timeline(case, [db.session.get_one(Case, absorbed.id)])
        assert [r.id for r in rows] == [a.id for a in timeline]
        new = str(timeline_section(case, rows, visible, status))
    assert old.count("<li") == len(timeline) >= len(ENTRIES) + 1
    assert _norm(new) == _norm(old)
    assert "&lt;script&gt;" in new and "<script>" not in new
    assert "&lt;b&gt;Bygg &amp; Miljö&lt;/b&gt;" in new


def test_a_hand_off_without_a_number_shows_without_one(app, org):
    """The template failed on it (its tel_href filter got Jinja's Undefined): a 500 page."""
    case = make_case(org.agent, org.bygglov)
    add_activity(case, K.HANDED_OFF, org.agent)
    db.session.commit()
    with app.test_request_context():
        html = str(timeline_section(case, relations.timeline(case, []), set(), {}))
    label = K.HANDED_OFF.label
    assert f'<strong>{label}</strong> till <span class="number"></span>, direkt koppling' in html

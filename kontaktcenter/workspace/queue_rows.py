"""The rows of the queue and the inboxes, written in Python: the inside of the case table's
``<tbody>``, as one escaped string.

The table's template looked up ~25 attributes, escaped ~20 values, ran five filters and the
due_badge macro per row, and yielded each piece through four generators: four fifths of a
queue page's Python calls (#16). The markup is what the template made, byte for byte
(tests/test_list_rows_queue.py keeps the old template and compares the two). The same approach as
the search page's hit lists (search/hit_list.py, decision 126).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from jinja2.filters import do_truncate
from markupsafe import Markup, escape

from kontaktcenter.cases import secrecy
from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import QueueRow
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.core.templating import format_datetime, format_relative, id_url
from kontaktcenter.goals.models import GoalState

_EMPTY = '\n    <tr><td colspan="5">Inga öppna ärenden matchar filtret.</td></tr>\n  '
_BREACHED = '<span class="badge badge-breached"><span aria-hidden="true">⚠</span> Försenat</span>'
_AT_RISK = '<span class="badge badge-risk"><span aria-hidden="true">⏱</span> Snart försenat</span>'
_CALLBACK = '<br><span class="badge badge-ok"><span aria-hidden="true">☎</span> Ring upp</span>'


def queue_rows(items: Iterable[QueueRow], content_ids: set[int]) -> Markup:
    """The rows of `items`; the summary and contact of those in `content_ids` (the rows the
    viewer may read, access.sees_content), the secrecy sentence for the others."""
    env = current_app.jinja_env
    now = utcnow()
    parts = ["\n  "]
    for case in items:
        href = escape(id_url("cases.show", case_id=case.id))
        parts.append(
            f'\n    <tr>\n      <td data-label="Ärende"><a class="nowrap" href="{href}">'
            f"{escape(case.reference)}</a><br>"
            f'<span class="muted">{escape(case.channel.label)}</span></td>\n'
            '      <td data-label="Förfaller">'
        )
        if case.has_promise:
            parts.append(
                f'<span class="nowrap">{escape(format_datetime(case.due_at))}</span><br>'
                f'<span class="muted">{escape(format_relative(case.due_at))}</span> '
                f"{due_badge(case, now)}"
            )
        else:
            parts.append('<span class="muted">Inget löfte kvar</span>')
        parts.append("\n        ")
        if case.callback_pending:
            parts.append(_CALLBACK)
        type_name = case.case_type_name if case.case_type_name is not None else "–"
        department = case.department_name if case.department_name is not None else "Kontaktcenter"
        parts.append(
            f'</td>\n      <td data-label="Ärendetyp och hos">{escape(type_name)}<br>'
            f'<span class="muted">{escape(department)}</span></td>\n'
            '      <td data-label="Sammanfattning och kontakt">'
        )
        if case.id in content_ids:
            summary = do_truncate(env, mask_personnummer(case.summary), 90)
            contact = case.contact_display_name if case.has_contact else "Ingen kontakt"
            parts.append(f'{escape(summary)}<br><span class="muted">{escape(contact)}</span>')
        else:
            masked = escape(secrecy.masked_text(case.effective_secrecy_ground))
            parts.append(f'<span class="secret"><span aria-hidden="true">🔒</span> {masked}</span>')
        assignee = case.assignee_name if case.assignee_name is not None else "Ingen handläggare"
        parts.append(
            f'</td>\n      <td data-label="Status och handläggare">{escape(case.status.label)}'
            f'<br><span class="muted">{escape(assignee)}</span></td>\n    </tr>\n  '
        )
    if len(parts) == 1:
        parts.append(_EMPTY)
    parts.append("\n  ")
    return Markup("".join(parts))


_GOAL_ICONS = {"ok": "✓", "at_risk": "⏱", "breached": "⚠", "met": "✔", "paused": "⏸"}


def goal_state_badge(state: GoalState) -> Markup:
    """A service goal's state as the case page shows it (macros.html's goal_state_badge: a
    Python function, so the page imports no macros)."""
    return Markup(
        f'<span class="badge badge-{escape(state.value)}"><span aria-hidden="true">'
        f"{_GOAL_ICONS[state.value]}</span> {escape(state.label)}</span>"
    )


def due_badge(case: QueueRow | Case, now: datetime | None = None) -> Markup:
    """The badge of an open case past its due time or its at-risk time (none while it waits
    for the citizen), with the whitespace macros.html's due_badge always had: the queue's rows
    and the case page (through that macro) show the same rule."""
    if not case.is_open or case.status == CaseStatus.WAITING:
        return Markup("")
    now = utcnow() if now is None else now
    if case.due_at <= now:
        return Markup(f"\n    \n      {_BREACHED}\n    \n  ")
    if case.at_risk_at and case.at_risk_at <= now:
        return Markup(f"\n    \n      {_AT_RISK}\n    \n  ")
    return Markup("\n    \n  ")

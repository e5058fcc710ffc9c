"""The case page's timeline ("Händelser"), written in Python (issue #16).

The template (``cases/_timeline.html`` until this module) looked up a dozen attributes and
tested some fifteen kinds per entry, and yielded each piece through three generators: a
twentieth of a case page's Python calls. The markup is what the template made, but for
whitespace between tags (tests/test_timeline_html.py keeps the old template and compares the
two for every kind of entry).

Values come from the entry's ``data`` (JSON) as the template read them: a key that is missing
shows as nothing, a present value as its text (``None`` as "None", as Jinja printed it).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from markupsafe import Markup, escape

from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.models import MailStatus
from kontaktcenter.core.templating import from_iso, plural, tel_href, when

_MISSING: Any = object()

_ATTEMPT_RESULTS = {
    "reached": "nådde personen",
    "no_answer": "inget svar",
    "busy": "upptaget",
    "left_message": "lämnade röstmeddelande",
    "wrong_number": "fel nummer",
}
_ROUTING = (ActivityKind.ROUTED, ActivityKind.RETURNED)
_RELATING = (
    ActivityKind.MERGED,
    ActivityKind.MERGED_INTO,
    ActivityKind.LINKED,
    ActivityKind.UNLINKED,
)
_MAILING = (ActivityKind.EMAIL_QUEUED, ActivityKind.EMAIL_SENT)
_QUEUED_BADGE = '<span class="badge badge-risk">i kö, skickas strax</span>'
_FAILED_BADGE = (
    '<span class="badge badge-breached"><span aria-hidden="true">⚠</span> kunde inte skickas</span>'
)
_HIDDEN_CASE = "ett ärende som du inte har tillgång till"


def _text(value: Any) -> str:
    """A value as Jinja printed it: nothing for a missing key, else its escaped text."""
    return "" if value is _MISSING else str(escape(value))


def timeline_section(
    case: Case,
    timeline: list[Any],
    visible_references: Collection[str],
    message_status: Mapping[int, Any],
) -> Markup:
    """The section: `timeline` (``relations.timeline``'s rows), the references the reader may see
    named (``relations.visible_references``), the case's messages by id (their status)."""
    items = "".join(_entry(a, case.id, visible_references, message_status) for a in timeline)
    return Markup(  # noqa: S704 - every value in it is escaped
        '<section aria-labelledby="timeline-h">\n  <h2 id="timeline-h">Händelser</h2>\n'
        f'  <ol class="timeline">{items}\n  </ol>\n</section>'
    )


def _entry(
    a: Any,
    case_id: int,
    visible_references: Collection[str],
    message_status: Mapping[int, Any],
) -> str:
    kind = a.kind
    data = a.data if isinstance(a.data, dict) else {}
    get = data.get
    merged = a.case_id != case_id
    parts = [
        '\n    <li class="from-merged">' if merged else "\n    <li>",
        f"\n      <strong>{escape(kind.label)}</strong>",
    ]
    add = parts.append
    if kind == ActivityKind.HANDED_OFF:
        number = get("number", _MISSING)
        href = tel_href(None if number is _MISSING else number)
        shown = _text(number)
        add(
            f' till <a href="{escape(href)}" class="number">{shown}</a>'
            if href
            else f' till <span class="number">{shown}</span>'
        )
        if get("to"):
            add(f" ({_text(get('to'))})")
        add(", varm koppling" if get("transfer") == "warm" else ", direkt koppling")
    elif kind in _ROUTING and get("department"):
        add(f" – {_text(get('department'))}")
    elif kind == ActivityKind.REFERRED:
        add(f" – {_text(get('authority', _MISSING))}")
    elif kind == ActivityKind.CALLBACK_BOOKED and get("due_at"):
        add(f" – senast {when(from_iso(get('due_at')))}")
    elif kind == ActivityKind.CALLBACK_REQUESTED and get("slot_to"):
        add(f" – önskad tid {when(from_iso(get('slot_from')))}–{when(from_iso(get('slot_to')))}")
    elif kind == ActivityKind.CALLBACK_ATTEMPT:
        result = get("result", _MISSING)
        shown = _ATTEMPT_RESULTS.get(result, result) if result is not _MISSING else _MISSING
        add(f" – {_text(shown)}")
    elif kind == ActivityKind.CLASSIFIED:
        add(f" – {_text(get('new', _MISSING))}")
    elif kind == ActivityKind.SECRECY_CHANGED:
        secrecy = get("secrecy")
        add(
            f" – sekretess enligt {_text(secrecy)}"
            if secrecy
            else " – ärendets egen sekretess borttagen"
        )
    elif kind == ActivityKind.ASSIGNED:
        _assigned(get, add)
    elif kind in _RELATING and get("other"):
        other = get("other")
        add(f" – {_text(other) if other in visible_references else _HIDDEN_CASE}")
        moved = get("messages")
        if moved:
            add(f" ({escape(plural(moved, 'meddelande flyttat', 'meddelanden flyttade'))})")
    if kind in _MAILING and get("recipient"):
        add(f" till {_text(get('recipient'))}")
    if kind == ActivityKind.EMAIL_QUEUED:
        message = get("message", _MISSING)
        if message is not _MISSING and _held(message, message_status):
            status = message_status[message].status
            if status == MailStatus.QUEUED:
                add(f" – {_QUEUED_BADGE}")
            elif status == MailStatus.FAILED:
                add(f" – {_FAILED_BADGE}")
            else:
                add(f" – {escape(status.label.lower())}")
    if a.text:
        add(f"\n      <p>{escape(a.text)}</p>")
    who = escape(a.actor_name) if a.actor_id is not None else "Systemet"
    where = f' · <span class="nowrap">i {escape(a.case_reference)}</span>' if merged else ""
    add(f'\n      <div class="meta">{when(a.created_at)} · {who}{where}</div>\n    </li>')
    return "".join(parts)


def _held(message: Any, message_status: Mapping[int, Any]) -> bool:
    """``message in message_status`` as the template asked it (an unhashable value: no)."""
    try:
        return message in message_status
    except TypeError:
        return False


def _assigned(get: Any, add: Any) -> None:
    assignee = get("assignee")
    add(f" – {_text(assignee) if assignee else 'ingen'}")
    if get("via") != "distribution":
        return
    inner = ""
    if get("callback"):
        inner += "återuppringningen" + (", " if assignee else " ")
    inner += "av fördelningen" if assignee else "tillbaka i kön: handläggaren är inte tillgänglig"
    add(f" ({inner})")

"""What happens to a case, announced to the areas that keep promises or records about it.

Each signal is sent with the case as sender and ``at=`` the time it happened, inside the
transaction that made the change, before its commit: receivers (the service goals) change rows
in the same transaction, so the case and its promises are committed together or not at all.
Work that must happen after the commit (mail, webhooks) belongs in the outbox
(:mod:`kontaktcenter.core.outbox`), written by a receiver.

The case area sends these and knows nothing of who listens; that keeps the dependencies
pointing one way (cases ← goals, channels).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from blinker import Namespace

if TYPE_CHECKING:
    from kontaktcenter.cases.models import Case

_signals = Namespace()

created = _signals.signal("case-created")
routed = _signals.signal("case-routed")  # to a department (at: when it was routed)
# its department was set by routing or a hand-off (routed alone starts the second-line goal,
# which a hand-off, closing the case, must not)
department_assigned = _signals.signal("case-department-assigned")
department_acted = _signals.signal("case-department-acted")  # the department took it on
classified = _signals.signal("case-classified")  # its case type changed
callback_booked = _signals.signal("case-callback-booked")  # also requested=datetime | None
callback_done = _signals.signal("case-callback-done")
first_response = _signals.signal("case-first-response")  # the citizen got an answer
closed = _signals.signal("case-closed")
reopened = _signals.signal("case-reopened")
changed = _signals.signal("case-changed")  # anything else that moves its times (a pause)


def book_callback(case: Case, at: datetime, requested: datetime | None = None) -> datetime:
    """Announce a booked callback; receivers set ``case.callback_due_at`` (the promise), which
    otherwise is the requested time. Returns it."""
    case.callback_due_at = requested
    callback_booked.send(case, at=at, requested=requested)
    if case.callback_due_at is None:
        raise RuntimeError("a callback booked with no time and no receiver to promise one")
    return case.callback_due_at

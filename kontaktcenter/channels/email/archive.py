"""History moved from an old system (``flask import-mail --keep-received-time``).

An archived message keeps the time it reached the old system (the topmost dated Received
header, else Date) instead of the time of the import, however long ago. Its case is history,
not work: it is closed at once, no service goal runs for it (so none is ever breached, alerted
or counted in the goal figures: the ones its creation started are cancelled), nobody gets a
receipt for it, and later archived messages of the same thread join it without reopening it.
The service reports count cases by received time, so an archive lands in the periods before
the system was taken into use, as e-mail that was not answered here.
"""

from __future__ import annotations

from datetime import datetime

from kontaktcenter.cases.enums import ActivityKind, CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.templating import format_datetime
from kontaktcenter.goals import engine

CLOSED_NOTE = (
    "Importerat från arkiv: e-postmeddelandet kom {when} till det tidigare systemet. "
    "Ärendet avslutades vid importen, utan servicemål och utan mottagningskvitto."
)


def keep_as_history(
    message: MailMessage, new_case: Case | None, parsed: ParsedMessage, now: datetime
) -> None:
    """An archived message keeps its received time; the case it made is history."""
    message.received_at = received_time(parsed, now)
    if new_case is not None:
        close_as_history(new_case, message.received_at, now)


def received_time(parsed: ParsedMessage, now: datetime) -> datetime:
    """When the message reached the old system; the import time when it does not say (or
    names a time still to come)."""
    received = parsed.received_at
    if received is None or received > now:
        return now
    return received


def close_as_history(case: Case, received: datetime, now: datetime) -> None:
    """Make a case just created from an archived message history: received when the message
    was, closed then, with no running goal (those its creation started are cancelled)."""
    for goal in case.goals:
        if goal.is_active:
            goal.cancelled_at = now
    case.received_at = received
    case.status = CaseStatus.CLOSED
    case.closed_at = received
    case.resolution = "Importerat från arkiv"
    add_activity(
        case, ActivityKind.CLOSED, None, CLOSED_NOTE.format(when=format_datetime(received))
    )
    engine.refresh(case, now)  # no running goal left: nothing is due

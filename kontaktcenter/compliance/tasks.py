"""Outbox tasks of the compliance area: hand a case to its diarium."""

from __future__ import annotations

import logging

from kontaktcenter.cases.models import Case
from kontaktcenter.compliance import diarium as diarium_service
from kontaktcenter.compliance import diarium_handoff
from kontaktcenter.compliance.diarium_models import CaseDiarium, Diarium, HandoffState
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow

log = logging.getLogger(__name__)


@outbox.task(diarium_service.TASK)
def deliver(case_id: int, diarium_id: int) -> None:
    """POST the case to the diarium. Idempotent: does nothing once it was accepted (or got a
    diarienummer), or when it is no longer this diarium's to receive. A failure is recorded
    on the case's entry and raised, for the outbox to retry with its backoff."""
    entry = db.session.get(CaseDiarium, case_id)
    case = db.session.get(Case, case_id)
    diarium = db.session.get(Diarium, diarium_id)
    if entry is None or case is None or diarium is None:
        return
    if entry.state is not HandoffState.PENDING or entry.diarium_id != diarium_id:
        return
    current = diarium_service.diarium_for(case)
    if not diarium.active or current is None or current.id != diarium.id:
        # The case moved (returned to the first line, routed elsewhere) or the diarium was
        # switched off: not this diarium's to receive. Wait for (or queue) the right one.
        entry.state = HandoffState.NO_DIARIUM
        entry.diarium_id = None
        diarium_service.hand_off_again(case, entry)
        db.session.commit()
        return
    payload = diarium_handoff.document(case, entry, diarium)
    try:
        answer = diarium_handoff.post(diarium, payload)
    except diarium_handoff.HandoffError as error:
        entry.last_error = str(error)
        db.session.commit()
        raise
    entry.state = HandoffState.SENT
    entry.sent_at = utcnow()
    entry.last_error = None
    if answer is not None:
        try:
            number = diarium_service.validate_diarienummer(answer)
        except ValidationError:
            log.warning("Diarium %s answered an unusable diarienummer for a case", diarium_id)
        else:
            diarium_service.record_diarienummer(entry, number)
    db.session.commit()

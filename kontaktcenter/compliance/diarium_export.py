"""A diarium's waiting cases as one ZIP, for a registrar who takes files instead of webhooks
(or to catch up after an outage): ``diarium.json`` holds the hand-off document of each case
(docs/diarium-format.md), beside the allmän-handling export of the same cases."""

from __future__ import annotations

import json

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.models import Case
from kontaktcenter.compliance import case_export, diarium_handoff
from kontaktcenter.compliance.diarium_models import CaseDiarium, Diarium, Marking
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User

FORMAT = "kontaktcenter-diarium-batch/1"


def waiting(diarium: Diarium, limit: int = case_export.MAX_CASES) -> list[tuple[Case, CaseDiarium]]:
    """Cases of the diarium's departments marked "ska diarieföras" without a diarienummer,
    oldest first."""
    departments = [d.id for d in diarium.departments]
    if not departments:
        return []
    rows = db.session.execute(
        sa.select(Case, CaseDiarium)
        .join(CaseDiarium, CaseDiarium.case_id == Case.id)
        .where(
            CaseDiarium.marking == Marking.REGISTER,
            CaseDiarium.diarienummer.is_(None),
            Case.department_id.in_(departments),
        )
        .order_by(Case.received_at, Case.id)
        .limit(limit)
    ).all()
    return [(case, entry) for case, entry in rows]


def export(user: User, diarium: Diarium) -> case_export.Export:
    found = [(c, e) for c, e in waiting(diarium) if access.can_view(user, c)]
    if not found:
        raise ValidationError("Inga ärenden väntar på diarienummer i det här diariet.")
    documents = [diarium_handoff.document(case, entry, diarium) for case, entry in found]
    batch = {"format": FORMAT, "diarium": {"id": diarium.id, "name": diarium.name}}
    body = json.dumps(batch | {"cases": documents}, ensure_ascii=False, indent=2).encode()
    return case_export.export_cases(
        user, [case for case, _entry in found], via="diarium", extra={"diarium.json": body}
    )

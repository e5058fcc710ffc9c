"""Requests for erasure (radering, GDPR art. 17): a decision, recorded, and carried out only
where the law allows.

An authority may not destroy allmänna handlingar except under a gallringsbeslut (2 kap. TF,
arkivlagen 10 §; art. 17.3 b: the processing is a legal obligation and a task in the public
interest). So most requests are refused with that ground; a request is granted for data that is
not an allmän handling (a working note that was never expedited or filed) or that a
gallringsbeslut allows to be gallrad. A granted decision anonymises the cases it names with the
gallring's anonymiser (compliance/anonymise.py), in the decision's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.compliance import retention_selection
from kontaktcenter.compliance.anonymise import anonymise_cases
from kontaktcenter.compliance.extract_models import (
    ErasureDecision,
    ErasureOutcome,
    pending_extract_clause,
)
from kontaktcenter.core import audit
from kontaktcenter.core.errors import NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import User

REASON_MAX = 2000

# Ground code → label. The first group refuses, the second grants.
REFUSING_GROUNDS: dict[str, str] = {
    "allman-handling": "Allmän handling som ska bevaras: inget gallringsbeslut medger radering "
    "(2 kap. TF, 10 § arkivlagen, art. 17.3 b)",
    "rattslig-forpliktelse": "Behandlingen behövs för en rättslig förpliktelse eller en uppgift "
    "av allmänt intresse (art. 17.3 b)",
    "rattsliga-ansprak": "Uppgifterna behövs för att fastställa, göra gällande eller försvara "
    "rättsliga anspråk (art. 17.3 e)",
}
GRANTING_GROUNDS: dict[str, str] = {
    "gallringsbeslut": "Ett gallringsbeslut medger att uppgifterna gallras",
    "ej-allman-handling": "Uppgifterna är inte allmän handling (till exempel arbetsmaterial "
    "som inte har expedierats eller tillförts ett ärende)",
    "olaglig-behandling": "Uppgifterna har behandlats på ett otillåtet sätt (art. 17.1 d)",
}
LEGAL_GROUNDS = REFUSING_GROUNDS | GRANTING_GROUNDS
EXPLANATION = (
    "Kommunen är en myndighet. Det som kommer in till eller skickas från kommunen är allmänna "
    "handlingar, som enligt tryckfrihetsförordningen och arkivlagen ska bevaras och inte får "
    "förstöras annat än enligt ett gallringsbeslut. Rätten till radering i artikel 17 gäller "
    "därför inte uppgifter som kommunen är skyldig att bevara (artikel 17.3 b). En begäran om "
    "radering kan beviljas för uppgifter som inte är allmänna handlingar, eller när ett "
    "gallringsbeslut medger gallring. Beslutet och skälen registreras här."
)


def decide(
    by: User,
    contact_id: int,
    outcome: ErasureOutcome,
    legal_ground: str,
    reason: str,
    case_ids: list[int] | None = None,
) -> ErasureDecision:
    """Record a decision on a request for erasure; a granted one anonymises its cases now."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("Kontakten finns inte.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Skriv en motivering till beslutet.", "reason")
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Motiveringen får vara högst {REASON_MAX} tecken.", "reason")
    grounds = GRANTING_GROUNDS if outcome is ErasureOutcome.GRANTED else REFUSING_GROUNDS
    if legal_ground not in grounds:
        raise ValidationError(
            "Den rättsliga grunden passar inte beslutet: välj en grund för "
            + ("bifall." if outcome is ErasureOutcome.GRANTED else "avslag."),
            "legal_ground",
        )
    wanted = sorted(set(case_ids or []))
    cases = list(
        db.session.scalars(
            sa.select(Case).where(Case.id.in_(wanted), Case.contact_id == contact.id)
        )
    )
    if len(cases) != len(wanted):
        raise ValidationError("Ärendena måste höra till kontakten.", "cases")
    if outcome is ErasureOutcome.GRANTED:
        if not cases:
            raise ValidationError("Välj de ärenden som ska anonymiseras.", "cases")
        if any(case.status != CaseStatus.CLOSED for case in cases):
            raise ValidationError(
                "Ett öppet ärende kan inte anonymiseras: avsluta det först.", "cases"
            )
        _ensure_not_blocked(contact.id, wanted)
    decision = ErasureDecision(
        contact_id=contact.id,
        outcome=outcome,
        legal_ground=legal_ground,
        reason=reason,
        case_ids=wanted,
        decided_at=utcnow(),
        decided_by_id=by.id,
    )
    db.session.add(decision)
    references = [case.reference for case in cases]
    audit.add(
        by,
        "erasure_decided",
        contact_id=contact.id,
        outcome=outcome.value,
        legal_ground=legal_ground,
        cases=references,
    )
    if outcome is ErasureOutcome.GRANTED:
        db.session.flush()
        anonymise_cases(wanted, db.session())
        decision.carried_out_at = utcnow()
    db.session.commit()
    return decision


def _ensure_not_blocked(contact_id: int, case_ids: list[int]) -> None:
    """What blocks gallring blocks a granted erasure too: a register extract not yet delivered
    (it must describe what we held when it was asked for) and a legal hold on a case."""
    if db.session.scalar(sa.select(pending_extract_clause(contact_id))):
        raise ValidationError(
            "Personen har en begäran om registerutdrag som inte är levererad. Leverera "
            "registerutdraget först.",
            "cases",
        )
    held = db.session.scalars(
        sa.select(Case.reference).where(Case.id.in_(case_ids), retention_selection.on_hold())
    ).all()
    if held:
        raise ValidationError(
            "Ärendet har ett bevarandebeslut (legal hold) och kan inte anonymiseras: "
            + ", ".join(held)
            + ".",
            "cases",
        )


def decisions_for(contact_id: int) -> list[ErasureDecision]:
    return list(
        db.session.scalars(
            sa.select(ErasureDecision)
            .where(ErasureDecision.contact_id == contact_id)
            .order_by(ErasureDecision.decided_at.desc(), ErasureDecision.id.desc())
        )
    )

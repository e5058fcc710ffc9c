"""The secrecy grounds: the provisions of the Public Access to Information and Secrecy Act
(offentlighets- och sekretesslagen, OSL 2009:400) that a case type or a case may be made secret
under. The one list, here below the case types that use it; ``cases.secrecy`` re-exports it.

A ground is stored as its code ("OSL 26:1" = 26 kap. 1 § OSL) and shown with its label.
"""

from __future__ import annotations

from kontaktcenter.core import audit
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import CaseType, User

# The provisions a municipality's contact center meets, most common first.
GROUNDS: dict[str, str] = {
    "OSL 26:1": "Socialtjänst (26 kap. 1 § OSL)",
    "OSL 25:1": "Hälso- och sjukvård (25 kap. 1 § OSL)",
    "OSL 23:1": "Förskola och annan pedagogisk verksamhet (23 kap. 1 § OSL)",
    "OSL 23:2": "Elevhälsa och särskilt elevstöd (23 kap. 2 § OSL)",
    "OSL 21:1": "Uppgift om hälsa eller sexualliv (21 kap. 1 § OSL)",
    "OSL 21:3": "Skyddade personuppgifter: adress och liknande (21 kap. 3 § OSL)",
    "OSL 22:1": "Folkbokföring och liknande register (22 kap. 1 § OSL)",
    "OSL 39:3": "Personaladministrativ verksamhet (39 kap. 3 § OSL)",
    "OSL 19:3": "Upphandling och kommunens affärsförhållanden (19 kap. 3 § OSL)",
    "OSL 30:23": "Tillsyn: enskildas affärs- och driftförhållanden (30 kap. 23 § OSL)",
    "OSL 18:8": "Säkerhets- och bevakningsåtgärder (18 kap. 8 § OSL)",
    "OSL 18:13": "Risk- och sårbarhetsanalyser, krisberedskap (18 kap. 13 § OSL)",
}


def label(ground: str | None) -> str:
    """The Swedish label of a ground (the code itself if it is no longer in the list)."""
    if not ground:
        return ""
    return GROUNDS.get(ground, ground)


def choices(none_label: str = "Ingen sekretess") -> list[tuple[str, str]]:
    """Form choices: no ground first, then every ground."""
    return [("", none_label), *GROUNDS.items()]


def set_case_type_secrecy(case_type: CaseType, by: User, ground: str | None) -> CaseType:
    """Make every case of the type secret under `ground`, or none (None), and log who did it."""
    ground = (ground or "").strip() or None
    if ground is not None and ground not in GROUNDS:
        raise ValidationError("Välj en sekretessgrund ur listan.", "secrecy_ground")
    previous = case_type.secrecy_ground
    if previous == ground:
        return case_type
    case_type.secrecy_ground = ground
    db.session.add(
        audit.AuditEvent(
            user_id=by.id,
            action="case_type_secrecy_changed",
            detail={"case_type": case_type.slug, "ground": ground, "previous": previous},
        )
    )
    db.session.commit()
    return case_type

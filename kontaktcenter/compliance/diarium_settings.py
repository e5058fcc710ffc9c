"""Administration of the diarier: one per nämnd, each serving some departments.

The signing secret is generated here (never typed by anyone), shown to the admin once when it
is created or replaced, and stored for signing; it is never logged or put in an outbox row.
An endpoint must be HTTPS, except on the machine itself (a registrar's adapter on localhost).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from kontaktcenter.compliance.diarium_models import Diarium, diarium_departments
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import Department

NAME_MAX = 120
URL_MAX = 500
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass
class DiariumData:
    name: str | None
    endpoint_url: str | None
    departments: list[Department]
    active: bool = True


def list_diaries() -> list[Diarium]:
    return list(db.session.scalars(sa.select(Diarium).order_by(Diarium.name)))


def counts() -> dict[str, int]:
    diaries = list_diaries()
    return {"diaries": len(diaries), "active": sum(1 for d in diaries if d.active)}


def new_secret() -> str:
    return "kcd_" + secrets.token_urlsafe(32)


def create(data: DiariumData) -> tuple[Diarium, str]:
    """The new diarium and its signing secret (to be shown once)."""
    diarium = Diarium(signing_secret=new_secret())
    _apply(diarium, data)
    db.session.add(diarium)
    db.session.commit()
    return diarium, diarium.signing_secret


def update(diarium: Diarium, data: DiariumData) -> Diarium:
    _apply(diarium, data)
    db.session.commit()
    return diarium


def rotate_secret(diarium: Diarium) -> str:
    diarium.signing_secret = new_secret()
    db.session.commit()
    return diarium.signing_secret


def validate_url(raw: str | None) -> str:
    url = (raw or "").strip()
    if not url:
        raise ValidationError("Ange diariets mottagaradress (URL).", "endpoint_url")
    malformed = ValidationError(
        "Ange en fullständig adress, till exempel https://diarium.kommun.se/kontaktcenter.",
        "endpoint_url",
    )
    # No whitespace, control or non-ASCII characters: urllib refuses them when sending.
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise malformed
    try:
        parts = urlsplit(url)
        hostname, _port = parts.hostname, parts.port  # a bad IPv6 literal or port raises
    except ValueError:
        raise malformed from None
    if len(url) > URL_MAX or parts.scheme not in ("https", "http") or not hostname:
        raise malformed
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ValidationError(
            "Adressen måste börja med https:// (okrypterat bara mot den egna datorn).",
            "endpoint_url",
        )
    return url


def _apply(diarium: Diarium, data: DiariumData) -> None:
    name = (data.name or "").strip()
    if not name:
        raise ValidationError("Ange diariets namn, till exempel Byggnadsnämndens diarium.", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"Namnet får vara högst {NAME_MAX} tecken.", "name")
    taken = db.session.scalar(
        sa.select(Diarium.id).where(Diarium.name == name, Diarium.id != (diarium.id or 0))
    )
    if taken is not None:
        raise ValidationError("Det finns redan ett diarium med det namnet.", "name")
    ids = [d.id for d in data.departments]
    served = db.session.execute(
        sa.select(Department.name, Diarium.name)
        .join(diarium_departments, diarium_departments.c.department_id == Department.id)
        .join(Diarium, Diarium.id == diarium_departments.c.diarium_id)
        .where(Department.id.in_(ids), Diarium.id != (diarium.id or 0))
    ).first()
    if served is not None:
        raise ValidationError(
            f"{served[0]} lämnar redan ärenden till {served[1]}: en förvaltning har ett diarium.",
            "departments",
        )
    diarium.name = name
    diarium.endpoint_url = validate_url(data.endpoint_url)
    diarium.departments = list(data.departments)
    diarium.active = data.active

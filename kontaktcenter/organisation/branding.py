"""The municipality's name and logo on every page.

One row (`Branding`, id 1). The logo is an uploaded PNG, JPEG or WebP image that Pillow
decodes and re-encodes as a PNG no larger than LOGO_BOX: what is served is our own encoding,
never the uploaded bytes (no SVG scripts, no polyglot files, no metadata such as GPS tags).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from flask import g
from PIL import Image, UnidentifiedImageError
from sqlalchemy.exc import SQLAlchemyError

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import Branding

LOGO_MAX_BYTES = 1024 * 1024  # as uploaded
LOGO_BOX = (480, 160)  # pixels: the header shows it 40 px high
ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}
NAME_MAX = 100


@dataclass(frozen=True)
class Brand:
    name: str | None
    logo_etag: str | None  # set when there is a logo


def current() -> Brand:
    """For the templates: read once per request."""
    if "brand" not in g:
        try:
            row = db.session.get(Branding, 1)
        except SQLAlchemyError:  # an error page while the database is away: no brand
            db.session.rollback()
            row = None
        g.brand = Brand(name=row.name if row else None, logo_etag=row.logo_etag if row else None)
    return g.brand


def logo() -> tuple[bytes, str] | None:
    row = db.session.get(Branding, 1)
    if row is None or row.logo is None or row.logo_etag is None:
        return None
    return row.logo, row.logo_etag


def _row() -> Branding:
    row = db.session.get(Branding, 1)
    if row is None:
        row = Branding(id=1)
        db.session.add(row)
    return row


def set_name(name: str | None) -> Branding:
    name = " ".join((name or "").split()) or None
    if name is not None and len(name) > NAME_MAX:
        raise ValidationError(f"Högst {NAME_MAX} tecken.", "name")
    row = _row()
    row.name = name
    row.updated_at = utcnow()
    db.session.commit()
    return row


def set_logo(data: bytes | None) -> Branding:
    """Store an uploaded logo re-encoded as PNG; None removes it."""
    row = _row()
    if data is None:
        row.logo = row.logo_etag = None
    else:
        png = _reencode(data)
        row.logo, row.logo_etag = png, hashlib.sha256(png).hexdigest()[:16]
    row.updated_at = utcnow()
    db.session.commit()
    return row


def _reencode(data: bytes) -> bytes:
    if not data:
        raise ValidationError("Välj en bildfil.", "logo")
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError("Bilden är för stor (högst 1 MB).", "logo")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ALLOWED_FORMATS:
                raise ValidationError("Använd en PNG-, JPEG- eller WebP-bild.", "logo")
            if image.width * image.height > 25_000_000:  # a decompression bomb
                raise ValidationError("Bilden har för många bildpunkter.", "logo")
            image.load()
            converted = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError("Filen kunde inte läsas som en bild.", "logo") from None
    converted.thumbnail(LOGO_BOX)
    out = io.BytesIO()
    converted.save(out, format="PNG", optimize=True)
    return out.getvalue()

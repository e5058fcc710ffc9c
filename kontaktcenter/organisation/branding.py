"""The municipality's name and logo on every page.

One row (`Branding`, id 1). The logo is an uploaded PNG, JPEG or WebP image that Pillow
decodes and re-encodes as a PNG no larger than LOGO_BOX: what is served is our own encoding,
never the uploaded bytes (no SVG scripts, no polyglot files, no metadata such as GPS tags).
"""

from __future__ import annotations

import hashlib
import io
import struct
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


def save(name: str | None, logo: bytes | None = None, remove_logo: bool = False) -> Branding:
    """Set the name and, if given, a new logo (or remove it): checked first, one commit."""
    name = " ".join((name or "").split()) or None
    if name is not None and len(name) > NAME_MAX:
        raise ValidationError(f"Högst {NAME_MAX} tecken.", "name")
    png = _reencode(logo) if logo is not None and not remove_logo else None
    row = _row()
    row.name = name
    if remove_logo:
        row.logo = row.logo_etag = None
    elif png is not None:
        row.logo, row.logo_etag = png, hashlib.sha256(png).hexdigest()[:16]
    row.updated_at = utcnow()
    db.session.commit()
    return row


def set_name(name: str | None) -> Branding:
    """Only the name (the demo's seed)."""
    return save(name)


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
    except (  # what a damaged file makes Pillow's decoders raise
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        struct.error,
        Image.DecompressionBombError,
    ):
        raise ValidationError("Filen kunde inte läsas som en bild.", "logo") from None
    converted.thumbnail(LOGO_BOX)
    out = io.BytesIO()
    converted.save(out, format="PNG", optimize=True)
    return out.getvalue()

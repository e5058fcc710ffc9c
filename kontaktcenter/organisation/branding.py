"""The municipality's name and logo on every page.

One row (`Branding`, id 1). The logo is an uploaded PNG, JPEG or WebP image that Pillow
decodes and re-encodes as a PNG no larger than LOGO_BOX: what is served is our own encoding,
never the uploaded bytes (no SVG scripts, no polyglot files, no metadata such as GPS tags).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import struct
from dataclasses import dataclass
from time import monotonic

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from PIL import Image, UnidentifiedImageError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

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


BRAND_KEY = "kontaktcenter.brand"


def current() -> Brand:
    """For the templates (every page's header): kept per request and per process for
    ORGANISATION_CACHE_SECONDS (0 in the tests), as the organisation's names are (decision
    109). A change is seen at once in the process that made it (forgotten on flush, commit and
    rollback) and within the cache time in the others; a transaction changing it never fills
    the cache."""
    if "brand" in g:
        brand: Brand = g.brand
        return brand
    config = current_app.config
    ttl = config.get("ORGANISATION_CACHE_SECONDS", config.get("CALENDAR_CACHE_SECONDS", 0))
    cache = current_app.extensions.setdefault(BRAND_KEY, {})
    cached = cache.get("brand")
    if ttl and cached is not None and monotonic() - cached[0] < ttl:
        g.brand = cached[1]
        return g.brand
    try:
        row = db.session.execute(
            sa.select(Branding.name, Branding.logo_etag).where(Branding.id == 1)
        ).one_or_none()
    except SQLAlchemyError:  # an error page while the database is away: no brand, not cached
        db.session.rollback()
        g.brand = Brand(name=None, logo_etag=None)
        return g.brand
    g.brand = Brand(name=row.name if row else None, logo_etag=row.logo_etag if row else None)
    if ttl and not db.session.info.get(BRAND_KEY):
        cache["brand"] = (monotonic(), g.brand)
    return g.brand


def forget() -> None:
    """Drop the cached brand of this process (and request)."""
    if has_app_context():
        current_app.extensions.get(BRAND_KEY, {}).pop("brand", None)
        g.pop("brand", None)


@sa.event.listens_for(Session, "after_flush")
def _brand_changed(session: Session, _context: object) -> None:
    changed = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(obj, Branding) for obj in changed):
        session.info[BRAND_KEY] = True
        forget()


@sa.event.listens_for(Session, "after_commit")
@sa.event.listens_for(Session, "after_soft_rollback")
def _brand_settled(session: Session, *_args: object) -> None:
    """Forgotten again when the change is committed or rolled back: another request of this
    process (a threaded worker) may have cached the brand in between."""
    if session.info.pop(BRAND_KEY, False):
        forget()


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

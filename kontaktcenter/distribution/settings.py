"""Administration of distribution: the mode, what is distributed, the cap per agent."""

from __future__ import annotations

from dataclasses import dataclass

from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.distribution.models import DistributionMode, DistributionSettings

CAP_MIN, CAP_MAX = 1, 100


@dataclass
class SettingsData:
    mode: DistributionMode | None
    emails: bool
    callbacks: bool
    cap: int | None


def save(data: SettingsData) -> DistributionSettings:
    """Store the settings; turning distribution on hands out what waits (the sweep)."""
    if data.mode is None:
        raise ValidationError("Välj hur ärenden fördelas.", "mode")
    if data.cap is None or not CAP_MIN <= data.cap <= CAP_MAX:
        raise ValidationError(f"Ange taket som ett heltal, {CAP_MIN}–{CAP_MAX}.", "cap")
    if data.mode != DistributionMode.OFF and not (data.emails or data.callbacks):
        raise ValidationError("Välj vad som ska fördelas, eller stäng av fördelningen.", "emails")
    row = db.session.get(DistributionSettings, 1)
    if row is None:
        row = DistributionSettings(id=1)
        db.session.add(row)
    row.mode, row.emails, row.callbacks, row.cap = data.mode, data.emails, data.callbacks, data.cap
    row.updated_at = utcnow()
    if data.mode != DistributionMode.OFF:
        outbox.add("distribution.sweep")
    db.session.commit()
    return row

"""Administration → Fördelning: round-robin or least-loaded assignment, what, and the cap."""

from __future__ import annotations

from flask import current_app

from kontaktcenter.core.admin import bp, form_status, initial, render, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.roles import Role
from kontaktcenter.distribution import assignment, settings
from kontaktcenter.distribution.forms import SettingsForm
from kontaktcenter.distribution.models import DistributionMode
from kontaktcenter.distribution.settings import SettingsData


@bp.route("/fordelning", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def distribution_settings():
    saved = assignment.settings()
    form = SettingsForm(
        data=initial(
            {
                "mode": saved.mode.value,
                "emails": saved.emails,
                "callbacks": saved.callbacks,
                "cap": saved.cap,
            }
        )
    )

    def save() -> object:
        return settings.save(
            SettingsData(
                mode=DistributionMode(form.mode.data),
                emails=bool(form.emails.data),
                callbacks=bool(form.callbacks.data),
                cap=form.cap.data,
            )
        )

    done = submitted(
        form,
        save,
        lambda _: "Inställningarna för fördelning är sparade.",
        "admin.distribution_settings",
    )
    minutes = current_app.config.get(
        "DISTRIBUTION_PRESENCE_MINUTES", assignment.DEFAULT_PRESENCE_MINUTES
    )
    return done or render(
        "distribution/settings.html", form_status(form), form=form, presence_minutes=minutes
    )

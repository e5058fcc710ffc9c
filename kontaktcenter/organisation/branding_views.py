"""The municipality's name and logo: set under Administration, the logo served to every page
(the login page too, so it is public) from our own origin."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField

from kontaktcenter.core.admin import bp as admin_bp
from kontaktcenter.core.admin import form_status, render, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.forms import max_length, strip
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import branding

bp = Blueprint("branding", __name__)


class BrandingForm(FlaskForm):
    name = StringField(
        "Kommunens namn", filters=[strip], validators=[max_length(branding.NAME_MAX)]
    )
    logo = FileField("Ny logotyp (PNG, JPEG eller WebP, högst 1 MB)")
    remove_logo = BooleanField("Ta bort logotypen")


@bp.get("/kommun/logotyp.png")
def logo() -> ResponseReturnValue:
    found = branding.logo()
    if found is None:
        abort(404)
    data, etag = found
    response = Response(data, mimetype="image/png")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 86400  # the URL carries the etag: a new logo, a new URL
    return response.make_conditional(request)


@admin_bp.route("/kommun", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def branding_edit():
    current = branding.current()
    form = BrandingForm(data={"name": current.name or ""})

    def save() -> None:
        branding.set_name(form.name.data)
        upload = form.logo.data
        if form.remove_logo.data:
            branding.set_logo(None)
        elif upload is not None and upload.filename:
            try:
                data = upload.read(branding.LOGO_MAX_BYTES + 1)
            finally:
                upload.close()
            branding.set_logo(data)

    done = submitted(
        form, save, lambda _: "Kommunens namn och logotyp är sparade.", "admin.branding_edit"
    )
    return done or render("admin/branding.html", form_status(form), form=form, saved=current)

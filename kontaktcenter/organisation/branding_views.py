"""The municipality's logo, served to every page (the login page too, so it is public) from our
own origin. It is set under Administration (organisation/admin_views.py)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue

from kontaktcenter.organisation import branding

bp = Blueprint("branding", __name__)


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

"""E-mail through the API: the inbound door for mail gateways, and replies to the citizen."""

from __future__ import annotations

from flask import current_app, request
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.cases import _visible
from kontaktcenter.api.parsing import BadRequest, Fields, UnsupportedMediaType, json_object
from kontaktcenter.api.serializers import case_json
from kontaktcenter.cases import access
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.core.errors import Forbidden
from kontaktcenter.core.roles import Role

GATEWAY_ROLES = (Role.AGENT, Role.ADMIN)


@bp.post("/inbound/email")
def inbound_email() -> ResponseReturnValue:
    """The raw MIME message as the body. Rejected messages are kept too, so a gateway must not
    retry them: every outcome but a transport error is a 2xx. A large message, or any sent
    with ``Prefer: respond-async`` (RFC 7240), is stored before it is read and filed by a job,
    with others stored first: 202 with its id."""
    if api_user().role not in GATEWAY_ROLES:
        raise Forbidden("Din roll får inte lämna in e-post.")
    if request.mimetype != "message/rfc822":
        raise UnsupportedMediaType("Skicka meddelandet som message/rfc822.")
    limit = current_app.config.get("INBOUND_MAX_BYTES", 100 * 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        raise BadRequest("Meddelandet är för stort för att tas emot.")
    raw = request.get_data(cache=False)
    if not raw:
        raise BadRequest("Meddelandet är tomt.")
    later = _prefers_async()
    result = ingest(raw, file_later=later)
    if result.result == "accepted":
        accepted = {"result": "accepted", "id": result.message_pk, "reference": None}
        applied = {"Preference-Applied": "respond-async"} if later else {}
        return accepted | {"reason": result.reason}, 202, applied
    body = {"reference": result.reference, "result": result.result, "reason": result.reason}
    return body, 201 if result.result == "created" else 200


def _prefers_async() -> bool:
    """Whether the request's Prefer headers (RFC 7240) include respond-async: preferences are
    separated by commas, each a token (any case), optionally with a value and parameters."""
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            token = preference.split(";", 1)[0].split("=", 1)[0].strip()
            if token.lower() == "respond-async":
                return True
    return False


@bp.post("/cases/<reference>/replies")
def reply(reference: str) -> ResponseReturnValue:
    user = api_user()
    case = _visible(reference)
    access.ensure(user, "reply", case)
    fields = Fields(json_object())
    body = fields.text("body", outbound.BODY_MAX, required=True)
    version = fields.integer("version", minimum=1)
    fields.finish()
    outbound.reply(case, user, body or "", expected_version=version)
    return case_json(case, timeline=True), 201

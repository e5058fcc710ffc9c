"""Bearer-token authentication for every API request, and JSON for every domain error.

The blueprint is exempt from the login redirect and from CSRF (see kontaktcenter/auth and
create_app), so this module is the only gate: no token, no data. A session cookie is never
accepted and never set. The token acts as its user, with that user's role and departments.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, g, request
from flask.typing import ResponseReturnValue

from kontaktcenter.api.blueprint import bp
from kontaktcenter.channels.phone.models import CallIntegrationUser
from kontaktcenter.core.error_pages import api_error
from kontaktcenter.core.errors import DomainError
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import User

# Endpoints anyone may call: the API description.
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
# A telephony integration account's token sits on a third-party platform: it may post call
# events, its per-call statistics and the queue's callback requests, and nothing else (it has
# the agent role only because every user has a role).
INTEGRATION_ENDPOINTS = frozenset(
    {"api.post_call_event", "api.post_call_statistics", "api.post_callback"}
)
INTEGRATION_ONLY = (
    "Telefoniintegrationens nyckel gäller bara samtalshändelser, samtalsstatistik och begärda "
    "återuppringningar (POST /calls/events, /calls/statistics och /callbacks)."
)
REALM = 'Bearer realm="kontaktcenter"'
MAX_TOKEN_LENGTH = 200
# Read with the token (one statement per request): is its user a telephony integration account
# (channels.phone.integration.is_integration_user)?
_IS_INTEGRATION = sa.exists().where(CallIntegrationUser.user_id == User.id).label("is_integration")


def api_user() -> User:
    """The user the request's token belongs to (set by `authenticate`)."""
    user: User = g.api_user
    return user


def api_user_is_integration() -> bool:
    """Whether the request's token is a telephony integration account's (read with the token,
    so the endpoints that ask need no statement of their own)."""
    return bool(g.api_is_integration)


def _unauthorized(message: str, invalid: bool) -> ResponseReturnValue:
    response, status = api_error(401, message, "unauthorized")
    challenge = REALM + (', error="invalid_token"' if invalid else "")
    response.headers["WWW-Authenticate"] = challenge
    return response, status


@bp.before_request
def authenticate() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return _unauthorized("Ange en API-nyckel: Authorization: Bearer <nyckel>.", False)
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    found = None
    if scheme.lower() == "bearer" and secret and len(secret) <= MAX_TOKEN_LENGTH:
        found = users.token_holder(secret, _IS_INTEGRATION)
    if found is None:
        return _unauthorized("API-nyckeln är ogiltig eller återkallad.", True)
    user, is_integration = found[0], bool(found[1])
    if request.endpoint not in INTEGRATION_ENDPOINTS and is_integration:
        return api_error(403, INTEGRATION_ONLY, "forbidden")
    g.api_user = user
    g.api_is_integration = is_integration
    g._login_user = user  # flask_login.current_user works too; no session is created
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    """Case data is personal data: no shared or browser caches."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> ResponseReturnValue:
    extra = {"field": error.field} if error.field else {}
    return api_error(error.status, error.message, error.code, **extra)

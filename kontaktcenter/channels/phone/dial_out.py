"""Click-to-call through the phone platform: an optional dial-out webhook, signed with HMAC and
retried through the outbox (issue #14, docs/call-events.md "Ringa upp via växeln").

An agent clicks "Ring upp via växeln"; :func:`request_call` writes an outbox row
(``phone.dial_out``) in the caller's transaction, and after the commit the task (tasks.py)
POSTs ``{agent_email, agent_platform_id, number, reference, requested_at}`` to
``DIAL_OUT_URL``. The platform rings the agent's phone and connects it to the number.

Signature: ``X-Kontaktcenter-Timestamp: <unix seconds>`` and ``X-Kontaktcenter-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with DIAL_OUT_SECRET>``; the receiver
recomputes it, compares with ``hmac.compare_digest`` and refuses a stale timestamp.

A dial-out that could not be delivered within ``DIAL_OUT_MAX_AGE_SECONDS`` (120) is dropped,
not retried: ringing an agent's phone minutes after the click would connect a call nobody is
waiting for. The citizen's number stays on the outbox row only until the job is done or has
failed for good; then the outbox erases it (``private=("number",)`` in tasks.py). Sent with the
standard library (no HTTP client is a runtime dependency).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.channels.phone.models import CallAgent
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import normalise_phone
from kontaktcenter.organisation.models import User

TASK = "phone.dial_out"
TIMESTAMP_HEADER = "X-Kontaktcenter-Timestamp"
SIGNATURE_HEADER = "X-Kontaktcenter-Signature"
DELIVERY_HEADER = "X-Kontaktcenter-Delivery"
SECRET_MIN_LENGTH = 32
MAX_AGE_SECONDS = 120
TIMEOUT_SECONDS = 10
MAX_RESPONSE_BYTES = 64 * 1024
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
NOT_CONFIGURED = "Uppringning via växeln är inte inställd i den här installationen."


class DialOutError(Exception):
    """The platform did not accept the dial-out (retried by the outbox while it is fresh)."""


def settings_problem(config: Mapping[str, Any]) -> str | None:
    """What is wrong with the dial-out settings, or None (also when there is no URL: off)."""
    url = config.get("DIAL_OUT_URL")
    if not url:
        return None
    url = str(url)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return "KONTAKTCENTER_DIAL_OUT_URL is not a URL."
    if parts.scheme not in ("https", "http") or not hostname or not url.isascii():
        return "KONTAKTCENTER_DIAL_OUT_URL must be an https:// URL."
    if parts.scheme == "http" and hostname not in LOCAL_HOSTS:
        return "KONTAKTCENTER_DIAL_OUT_URL must be https:// (plain http only to localhost)."
    secret = config.get("DIAL_OUT_SECRET")
    if secret is None or len(str(secret)) < SECRET_MIN_LENGTH:
        return (
            "KONTAKTCENTER_DIAL_OUT_URL is set: set KONTAKTCENTER_DIAL_OUT_SECRET too, at least "
            f"{SECRET_MIN_LENGTH} characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')."
        )
    return None


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse to start with a dial-out URL but no usable secret: found at deployment, not by
    an agent whose click silently does nothing (or, worse, goes out unsigned)."""
    problem = settings_problem(config)
    if problem is not None:
        raise RuntimeError(problem)


def configured() -> bool:
    """Whether this installation has a dial-out webhook (KONTAKTCENTER_DIAL_OUT_URL, with a
    usable secret: the app refuses to start otherwise, see :func:`check_settings`)."""
    config = current_app.config
    return bool(config.get("DIAL_OUT_URL")) and settings_problem(config) is None


def request_call(user: User, number_e164: str, reference: str | None = None) -> None:
    """Ask the platform to ring `user`'s phone and connect it to `number_e164`: writes an
    outbox row in the caller's transaction (the caller commits).

    Raises ValidationError (Swedish, safe to show) when dial-out is off or the number is not a
    phone number. `reference` (a case's or a callback's) travels to the platform as it is.
    """
    if not configured():
        raise ValidationError(NOT_CONFIGURED)
    try:
        number = normalise_phone(number_e164)
    except ValidationError as error:
        raise ValidationError(error.message, "number") from None
    if number is None:
        raise ValidationError("Det finns inget telefonnummer att ringa.", "number")
    if reference is not None and len(reference) > 100:
        raise ValidationError("Referensen är för lång.", "reference")
    outbox.add(
        TASK,
        user_id=user.id,
        number=number,
        reference=reference,
        requested_at=utcnow().isoformat(),
        # The same for every retry: the platform's key to ignore a repeat.
        request_id=uuid.uuid4().hex,
    )


def platform_agent_id(user_id: int) -> str | None:
    """The platform's id of the agent (flask calls map-agent), if mapped."""
    return db.session.scalar(
        sa.select(CallAgent.platform_agent_id)
        .where(CallAgent.user_id == user_id)
        .order_by(CallAgent.platform_agent_id)
        .limit(1)
    )


def body(user: User, number: str, reference: str | None, requested_at: str) -> bytes:
    """The request's JSON body, exactly as it is signed."""
    document = {
        "agent_email": user.email,
        "agent_platform_id": platform_agent_id(user.id),
        "number": number,
        "reference": reference,
        "requested_at": requested_at,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, payload: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    message = str(timestamp).encode() + b"." + payload
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would repeat a redirected POST as a GET without its body and take its 200 for
    an acceptance: a redirect is refused instead (and retried)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(payload: bytes, request_id: str, timestamp: int) -> None:
    """POST the signed body to DIAL_OUT_URL. Raises DialOutError for anything but a 2xx answer
    in time (the message names no number: it is kept on the outbox row and logged)."""
    config = current_app.config
    secret = str(config["DIAL_OUT_SECRET"])
    timeout = config.get("DIAL_OUT_TIMEOUT_SECONDS", TIMEOUT_SECONDS)
    request = urllib.request.Request(
        str(config["DIAL_OUT_URL"]),
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Kontaktcenter-dial-out/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, payload),
            DELIVERY_HEADER: request_id,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as error:
        raise DialOutError(f"Växeln svarade {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DialOutError(f"Växeln kunde inte nås: {type(reason).__name__}") from None
    except (ValueError, http.client.HTTPException) as error:
        raise DialOutError(f"Växeln kunde inte nås: {type(error).__name__}") from None

"""The hand-off to a diarium: the JSON document (docs/diarium-format.md), its signature and the
HTTP POST to the registrar's system.

The signature is HMAC-SHA256 with the diarium's signing secret over ``f"{t}.{body}"`` (t: the
Unix time of sending), sent as ``X-Kontaktcenter-Signature: t=<t>,v1=<hex>``: the receiver
recomputes it and refuses a stale ``t``, so a captured request cannot be replayed later.
Sent with the standard library (no HTTP client is a runtime dependency), with timeouts.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any

from flask import current_app

from kontaktcenter.cases.models import Case
from kontaktcenter.compliance.diarium_models import CaseDiarium, Diarium
from kontaktcenter.core.extensions import utcnow

FORMAT = "kontaktcenter-diarium/1"
SIGNATURE_HEADER = "X-Kontaktcenter-Signature"
DELIVERY_HEADER = "X-Kontaktcenter-Delivery"
TIMEOUT_SECONDS = 15
MAX_RESPONSE_BYTES = 64 * 1024


class HandoffError(Exception):
    """The registrar's system did not accept the hand-off (retried by the outbox)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer we did not ask for: urllib would repeat a POST as a GET without
    its body and take that GET's 200 for an acceptance. Refused, so it is retried instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    digest = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def delivery_id(case: Case, diarium: Diarium) -> str:
    """The same for every retry of one hand-off: the receiver's key to ignore a repeat."""
    return f"{case.reference}/{diarium.id}"


def document(case: Case, entry: CaseDiarium, diarium: Diarium) -> dict[str, Any]:
    """The hand-off document. A secret case's sender and subject (register fields 3-4) are
    left out (DOMAIN req. 2); the registrar fetches the full export with its own API token."""
    secret = case.is_secret
    contact = case.contact
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return {
        "format": FORMAT,
        "delivery_id": delivery_id(case, diarium),
        "sent_at": utcnow().isoformat(),
        "diarium": {"id": diarium.id, "name": diarium.name},
        "case": {
            "reference": case.reference,
            "received_at": case.received_at.isoformat(),
            "department": _slug_name(case.department),
            "case_type": _slug_name(case.case_type),
            "channel": case.channel.value,
            "secret": secret,
            "secrecy_ground": case.effective_secrecy_ground,
            "sender": None if secret or contact is None else contact.display_name,
            "subject": None if secret else case.summary,
            "marking": entry.marking.value,
            "marked_at": entry.marked_at.isoformat(),
            "marked_by": entry.marked_by.name if entry.marked_by else None,
        },
        "links": {
            "export": f"{base}/api/v1/cases/{case.reference}/export",
            "diarium": f"{base}/api/v1/cases/{case.reference}/diarium",
        },
    }


def post(diarium: Diarium, payload: dict[str, Any]) -> str | None:
    """POST the signed document; the diarienummer the answer carries, if any. Raises
    HandoffError for anything but a 2xx answer (or no answer in time)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    timeout = current_app.config.get("DIARIUM_TIMEOUT_SECONDS", TIMEOUT_SECONDS)
    try:
        request = urllib.request.Request(
            diarium.endpoint_url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Kontaktcenter-diarium/1",
                SIGNATURE_HEADER: sign(diarium.signing_secret, int(time.time()), body),
                DELIVERY_HEADER: payload["delivery_id"],
            },
        )
        with _OPENER.open(request, timeout=timeout) as response:
            answer = response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as error:
        raise HandoffError(f"Diariet svarade {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise HandoffError(f"Diariet kunde inte nås: {type(reason).__name__}") from None
    except (ValueError, http.client.HTTPException) as error:
        # A malformed address (saved before it was checked) or a broken answer.
        raise HandoffError(f"Diariet kunde inte nås: {type(error).__name__}") from None
    return diarienummer_in(answer)


def diarienummer_in(answer: bytes) -> str | None:
    """``{"diarienummer": "..."}`` in the answer's JSON body; None for anything else."""
    try:
        data = json.loads(answer or b"null")
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("diarienummer"), str):
        return data["diarienummer"]
    return None


def _slug_name(obj: Any) -> dict[str, str] | None:
    return {"slug": obj.slug, "name": obj.name} if obj is not None else None

"""Click-to-call through the phone platform: an optional dial-out webhook, signed with HMAC and
retried through the outbox (issue #14).

SCAFFOLD: signatures agreed between the areas; bodies to be written.
"""

from __future__ import annotations

from kontaktcenter.organisation.models import User


def configured() -> bool:
    """Whether this installation has a dial-out webhook (KONTAKTCENTER_DIAL_OUT_URL)."""
    raise NotImplementedError


def request_call(user: User, number_e164: str, reference: str | None = None) -> None:
    """Ask the platform to ring `user`'s phone and connect it to `number_e164`: writes an
    outbox row in the caller's transaction (the caller commits)."""
    raise NotImplementedError

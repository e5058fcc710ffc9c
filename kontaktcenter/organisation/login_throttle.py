"""Signing in, throttled: guessing is slowed down, nobody is locked out, nothing tells which
accounts exist.

Every attempt counts (before the password is checked, so parallel guesses cannot slip past) in
the `limits` library's storage (Redis in production, memory in the embedded default; core.
extensions.Throttles), in moving windows:

- per account and client address (LOGIN_LIMIT_ACCOUNT_ADDRESS, 10 per 15 minutes): the only limit
  where the user has signed in before, so guesses from elsewhere never keep the right password out
  from where the user works; a success there clears the count;
- per account from addresses that never signed in to it (LOGIN_LIMIT_ACCOUNT, higher): a botnet
  spreading its guesses over many addresses. When it is used up, an address new to the account
  is not refused (that would let anyone keep a user out of a new computer by guessing wrong 30
  times): it gets fewer tries of its own instead (LOGIN_LIMIT_ACCOUNT_ADDRESS_STRICT, 3 per 15
  minutes), so the right password still gets in and a botnet gets 3 guesses per address;
- per client address for accounts it never signed in to (LOGIN_LIMIT_ADDRESS): one address trying
  many accounts (password spraying).

An attempt over a limit is refused before any password is checked, with one message and status
for every account name, known or not (the limits are keyed by the name as typed). A limit frees
up as its window moves on: the right password is slowed down, never refused for good. IPv6
addresses count per /64 (one subscriber's network). Failures are kept per account name and
address for the admins (Misslyckade inloggningar), and a burst that reaches a limit is logged.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from sqlalchemy.orm import joinedload

from kontaktcenter.core import admin, periodic
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db, limiter, upsert, utcnow
from kontaktcenter.core.jobs import app_job
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import LoginAddress, LoginFailure, User

WRONG = "Fel e-postadress eller lösenord."
UNKNOWN_ADDRESS = "okänd"
KEEP_FAILURES = timedelta(days=30)  # the admins' list; then the rows go
KEEP_ADDRESSES = timedelta(days=180)  # an address unused this long is a stranger again
_FALLBACK = "kontaktcenter.login_fallback_limiter"


class Throttled(DomainError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minut" if minutes == 1 else "minuter"
        super().__init__(
            f"För många inloggningsförsök. Vänta {minutes} {unit} och försök igen.", "password"
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Limit:
    setting: str
    item: RateLimitItem
    identifiers: tuple[str, ...]
    instead: _Limit | None = None  # counted in its place once this one is used up


def address_key(address: str) -> str:
    """The client address as the throttle counts it: IPv4 as is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _account_key(account: str) -> str:
    # Hashed: storage keys join identifiers with "/", and e-mail addresses stay out of Redis.
    return hashlib.sha256(account.encode()).hexdigest()[:32]


def _limits(account: str, address: str, known: bool) -> list[_Limit]:
    config = current_app.config
    prefix = (config.get("RATELIMIT_KEY_PREFIX") or "kontaktcenter", "login")
    wanted: list[tuple[str, tuple[str, ...]]] = [
        ("LOGIN_LIMIT_ACCOUNT_ADDRESS", (_account_key(account), address))
    ]
    if not known:
        wanted.append(("LOGIN_LIMIT_ACCOUNT", (_account_key(account),)))
        wanted.append(("LOGIN_LIMIT_ADDRESS", (address,)))
    limits = [
        _Limit(setting, parse(config[setting]), (*prefix, setting.lower(), *ids))
        for setting, ids in wanted
    ]
    if not known:  # the account-wide limit tightens the pair's instead of refusing
        strict = "LOGIN_LIMIT_ACCOUNT_ADDRESS_STRICT"
        ids = (*prefix, strict.lower(), _account_key(account), address)
        limits[1] = replace(limits[1], instead=_Limit(strict, parse(config[strict]), ids))
    return limits


def init_app(app: Flask) -> None:
    """Refuse to start with a limit the limits library cannot read; register the clean-up and
    the admin index panel."""
    for setting in (
        "LOGIN_LIMIT_ACCOUNT_ADDRESS",
        "LOGIN_LIMIT_ACCOUNT",
        "LOGIN_LIMIT_ADDRESS",
        "LOGIN_LIMIT_ACCOUNT_ADDRESS_STRICT",
    ):
        try:
            parse(str(app.config[setting]))
        except ValueError:
            raise RuntimeError(
                f"KONTAKTCENTER_{setting} must read like '10 per 15 minutes', "
                f"not {app.config[setting]!r}."
            ) from None
    periodic.register(prune, seconds=3600)
    admin.add_panel("admin/_panel_logins.html", lambda: {"counts": summary()}, order=15)


def _strategy() -> RateLimiter:
    return limiter().limiter


def _fallback() -> RateLimiter:
    """Per-process counts while the shared storage (Redis) is unreachable: still throttled."""
    found = current_app.extensions.get(_FALLBACK)
    if found is None:
        found = current_app.extensions[_FALLBACK] = MovingWindowRateLimiter(MemoryStorage())
    return cast(RateLimiter, found)


def _take(limits: list[_Limit]) -> RateLimiter:
    """Count this attempt against every limit, or raise Throttled (counting nothing) when one
    is used up. Returns the strategy that counted it."""
    try:
        return _take_with(_strategy(), limits)
    except Throttled:
        raise
    except Exception:  # the storage failed (Redis down): keep throttling in this process
        current_app.logger.exception(
            "Rate limit storage unreachable: sign-in throttled per process"
        )
        return _take_with(_fallback(), limits)


def _take_with(strategy: RateLimiter, limits: list[_Limit]) -> RateLimiter:
    limits = [
        limit.instead
        if limit.instead is not None and not strategy.test(limit.item, *limit.identifiers)
        else limit
        for limit in limits
    ]
    full = [limit for limit in limits if not strategy.test(limit.item, *limit.identifiers)]
    if not full:
        taken = [strategy.hit(limit.item, *limit.identifiers) for limit in limits]
        if all(taken):
            return strategy
        full = [limit for limit, ok in zip(limits, taken, strict=True) if not ok]
    now = time.time()
    waits = [strategy.get_window_stats(f.item, *f.identifiers).reset_time - now for f in full]
    raise Throttled(max(1, math.ceil(max(waits))))


def _known(account: str, address: str) -> bool:
    """Has the account with this name signed in from this address? (One query for every name,
    existing or not.)"""
    found = db.session.scalar(
        sa.select(LoginAddress.user_id)
        .join(User, User.id == LoginAddress.user_id)
        .where(User.email == account, LoginAddress.address == address)
    )
    return found is not None


def sign_in(email: str | None, password: str | None, address: str | None) -> User | None:
    """The user these credentials belong to, or None (then WRONG is the only thing to say).
    Raises Throttled when this account name and client address must wait."""
    account = (email or "").strip().lower()[:254]
    client = (address or UNKNOWN_ADDRESS)[:64]
    key = address_key(client)
    limits = _limits(account, key, _known(account, key))
    strategy = _take(limits)
    user = users.authenticate(account, password)
    if user is None:
        _record_failure(account, client, strategy, limits)
        return None
    _record_success(user, key, strategy, limits[0])
    return user


def _record_failure(
    account: str, address: str, strategy: RateLimiter, limits: list[_Limit]
) -> None:
    """Count the failure in the account name's and address's latest burst (a new burst when
    the last failure is older than the account-and-address window)."""
    now = utcnow()
    try:
        used_up = [
            limit.setting
            for limit in limits
            if strategy.get_window_stats(limit.item, *limit.identifiers).remaining <= 0
        ]
    except Exception:  # the storage went away since the attempt was counted: still record it
        current_app.logger.exception("Rate limit storage unreachable while recording a failure")
        used_up = []
    table = cast(sa.Table, LoginFailure.__table__)
    new_burst = table.c.last_at < now - timedelta(seconds=limits[0].item.get_expiry())
    user_id = db.session.scalar(sa.select(User.id).where(User.email == account))
    throttled_at = now if used_up else None
    insert = upsert(LoginFailure).values(
        account=account,
        address=address,
        user_id=user_id,
        failures=1,
        first_at=now,
        last_at=now,
        throttled_at=throttled_at,
    )
    statement = insert.on_conflict_do_update(
        index_elements=["account", "address"],
        set_={
            "user_id": user_id,
            "failures": sa.case((new_burst, 1), else_=table.c.failures + 1),
            "first_at": sa.case((new_burst, now), else_=table.c.first_at),
            "last_at": now,
            "throttled_at": throttled_at
            if used_up
            else sa.case((new_burst, sa.null()), else_=table.c.throttled_at),
        },
    )
    db.session.execute(statement)
    db.session.commit()
    if used_up:
        current_app.logger.warning(
            "Sign-in attempts throttled (%s) for %s from %s",
            ", ".join(used_up),
            f"user {user_id}" if user_id else f"unknown account {_account_key(account)[:12]}",
            address,
        )


def _record_success(user: User, address: str, strategy: RateLimiter, pair: _Limit) -> None:
    """Remember the address as the user's and clear its count for the account."""
    now = utcnow()
    statement = (
        upsert(LoginAddress)
        .values(user_id=user.id, address=address, last_at=now)
        .on_conflict_do_update(index_elements=["user_id", "address"], set_={"last_at": now})
    )
    db.session.execute(statement)
    db.session.commit()
    try:
        strategy.clear(pair.item, *pair.identifiers)
    except Exception:  # the count expires by itself
        current_app.logger.exception("Could not clear the sign-in count")


# --- the admins' view and the clean-up ------------------------------------------------------


def recent_failures(limit: int = 200) -> list[LoginFailure]:
    """Failed sign-ins per account name and address, the latest first."""
    return list(
        db.session.scalars(
            sa.select(LoginFailure)
            .options(joinedload(LoginFailure.user))
            .order_by(LoginFailure.last_at.desc(), LoginFailure.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class FailureSummary:
    failures: int  # in bursts active in the last day
    addresses: int
    throttled: int  # bursts that reached a limit


def summary(since: timedelta = timedelta(days=1)) -> FailureSummary:
    row = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(LoginFailure.failures), 0),
            sa.func.count(sa.distinct(LoginFailure.address)),
            sa.func.count(LoginFailure.throttled_at),
        ).where(LoginFailure.last_at > utcnow() - since)
    ).one()
    return FailureSummary(int(row[0]), int(row[1]), int(row[2]))


@app_job
def prune() -> int:
    """Forget old failures and addresses unused for long (periodic, idempotent)."""
    now = utcnow()
    gone = 0
    for statement in (
        sa.delete(LoginFailure).where(LoginFailure.last_at < now - KEEP_FAILURES),
        sa.delete(LoginAddress).where(LoginAddress.last_at < now - KEEP_ADDRESSES),
    ):
        result = cast(sa.CursorResult[Any], db.session.execute(statement))
        gone += result.rowcount
    db.session.commit()
    return gone

"""Callbacks: request, take, attempt, close. Each function owns its transaction (commits) and
raises :class:`kontaktcenter.core.errors.ValidationError` with a Swedish message on bad input.

SCAFFOLD: signatures agreed between the areas; bodies to be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kontaktcenter.callbacks.models import Callback, CallbackSource
from kontaktcenter.cases.enums import CallbackResult
from kontaktcenter.cases.models import Case
from kontaktcenter.organisation.models import CaseType, User


@dataclass
class CallbackRequest:
    """A request from outside a case (the phone platform, an e-service) or from a case."""

    source: CallbackSource
    number: str | None = None  # any Swedish form; normalised with phonenumbers
    name: str | None = None  # the caller's name, when the requester knows it
    case_type: CaseType | None = None
    note: str | None = None  # what to call about
    slot_start: datetime | None = None  # None and None: as soon as possible
    slot_end: datetime | None = None
    platform_ref: str | None = None  # idempotency key per source


@dataclass
class Requested:
    callback: Callback
    created: bool  # False: the same (source, platform_ref) was requested before


def request(data: CallbackRequest, by: User) -> Requested:
    """A callback requested from outside a case: makes the phone case (first line, or the
    case type's department when it has no direct answer) and its callback. Idempotent per
    (source, platform_ref)."""
    raise NotImplementedError


def book(
    case: Case,
    by: User,
    slot_start: datetime | None = None,
    slot_end: datetime | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Callback:
    """Book a callback on an existing case (the case page's "Boka återuppringning")."""
    raise NotImplementedError


def open_callback(case: Case) -> Callback | None:
    """The case's pending callback, if any."""
    raise NotImplementedError


def take_next(user: User) -> Callback | None:
    """Assign the next callable callback of the user's worklist to them, race-free (SKIP
    LOCKED), or None when there is none."""
    raise NotImplementedError


def record_attempt(
    callback: Callback, by: User, result: CallbackResult, note: str | None = None
) -> Callback:
    """One attempt; closes the callback (reached, or exhausted by the case type's retry
    rules, then the fallback) or sets its next allowed attempt."""
    raise NotImplementedError


def mark_letter_sent(callback: Callback, by: User) -> Callback:
    raise NotImplementedError


def cancel(callback: Callback, by: User, reason: str) -> Callback:
    raise NotImplementedError

"""Domain errors. Their messages are Swedish and safe to show a user."""

from __future__ import annotations


class DomainError(Exception):
    status = 422
    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


STALE_MESSAGE = (
    "Någon annan har ändrat ärendet medan du arbetade med det. "
    "Sidan visar nu den senaste versionen – kontrollera och gör om din åtgärd."
)

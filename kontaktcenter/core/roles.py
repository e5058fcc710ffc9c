"""The four roles. Every permission in the app is decided from a user's role and departments."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    HANDLER = "handler"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.AGENT: "Kommunvägledare",
    Role.HANDLER: "Handläggare",
    Role.MANAGER: "Chef",
    Role.ADMIN: "Administratör",
}

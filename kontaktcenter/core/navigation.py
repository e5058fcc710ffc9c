"""The main menu, built by the areas and shown by ``base.html``.

Each area adds its entries with :func:`add_item`; whether a user sees an entry is decided by
the roles its view declares with ``@role_required`` (:func:`kontaktcenter.core.auth.roles_for`),
so the menu and the server's gate cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request
from flask_login import current_user

from kontaktcenter.core.auth import roles_for


@dataclass(frozen=True)
class MenuItem:
    label: str
    endpoint: str
    order: int
    accesskey: str | None = None

    @property
    def current(self) -> bool:
        return request.blueprint == self.endpoint.partition(".")[0]


_items: list[MenuItem] = []


def add_item(label: str, endpoint: str, order: int, accesskey: str | None = None) -> None:
    if all(item.endpoint != endpoint for item in _items):
        _items.append(MenuItem(label, endpoint, order, accesskey))
        _items.sort(key=lambda item: item.order)


def menu() -> list[MenuItem]:
    """The entries the signed-in user may open."""
    if not current_user.is_authenticated:
        return []
    return [item for item in _items if allowed(item.endpoint)]


def allowed(endpoint: str) -> bool:
    """May the signed-in user open `endpoint`? For buttons and links inside pages, decided by
    the same ``@role_required`` as the view."""
    return current_user.is_authenticated and current_user.role in roles_for(endpoint)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["main_menu"] = menu
    app.jinja_env.globals["allowed"] = allowed

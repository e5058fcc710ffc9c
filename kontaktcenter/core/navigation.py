"""The main menu, built by the areas and shown by ``base.html``.

Each area adds its entries with :func:`add_item`; whether a user sees an entry is decided by
the roles its view declares with ``@role_required`` (:func:`kontaktcenter.core.auth.roles_for`),
so the menu and the server's gate cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from kontaktcenter.core import rendered
from kontaktcenter.core.auth import roles_for


@dataclass(frozen=True)
class MenuItem:
    label: str
    endpoint: str
    order: int
    accesskey: str | None = None

    def current_in(self, blueprint: str | None) -> bool:
        return blueprint == self.endpoint.partition(".")[0]


_items: list[MenuItem] = []


def add_item(label: str, endpoint: str, order: int, accesskey: str | None = None) -> None:
    if all(item.endpoint != endpoint for item in _items):
        _items.append(MenuItem(label, endpoint, order, accesskey))
        _items.sort(key=lambda item: item.order)


@dataclass(frozen=True)
class MenuLink:
    """An entry as the page shows it."""

    label: str
    url: str
    accesskey: str | None
    current: bool


def _menu_of(user: Any) -> list[MenuItem]:
    """The entries `user` may open."""
    if not user.is_authenticated:
        return []
    return [item for item in _items if user.role in roles_for(item.endpoint)]


def menu_html(user: Any) -> Markup:
    """The menu of the signed-in `user` (in the header: :func:`page_header`), with its
    addresses and the current entry marked. It is the same for every page of one area seen by
    one role, so it is rendered once per process for each (role, area, application root)."""
    blueprint = request.blueprint
    return rendered.once(
        ("main-menu", user.role, blueprint, request.script_root),
        lambda: render_template("_main_menu.html", items=menu_links(user, blueprint)),
    )


@pass_context
def page_header(context: Context, site: Any, status: str) -> Markup:
    """The inside of every page's header (``_header.html``): the brand, the main menu, the
    search field and the signed-in user. It was a tenth of a case page's work, and is the same
    HTML for every page of one area seen by one role but for the user's name, the CSRF token
    and the agent's status (`status`: HTML), so it is rendered once per process for each and
    those three are put in (kept per role, not per user: it shares the store with the case
    pages' actions sections). `site`: the municipality's name and logo (``brand()``)."""
    user = template_user(context)
    authenticated = bool(user.is_authenticated)
    blueprint = request.blueprint
    key = (
        "page-header",
        request.script_root,
        blueprint,
        site.name,
        site.logo_etag,
        authenticated,
        *((user.role,) if authenticated else ()),
    )

    def render() -> str:
        return render_template(
            "_header.html",
            site=site,
            authenticated=authenticated,
            menu=menu_html(user) if authenticated else "",
            user_name=rendered.slot("user"),
            role_label=user.role.label if authenticated else None,
            csrf=rendered.slot("csrf"),
            status=Markup(rendered.slot("status")),
        )

    # no token for a page without a session to protect (the login page's header)
    values = {"csrf": generate_csrf(), "status": status, "user": user.name} if authenticated else {}
    return rendered.once_filled(key, render, values)


def menu_links(user: Any, blueprint: str | None) -> list[MenuLink]:
    return [
        MenuLink(item.label, url_for(item.endpoint), item.accesskey, item.current_in(blueprint))
        for item in _menu_of(user)
    ]


def allowed(endpoint: str) -> bool:
    """May the signed-in user open `endpoint`? For buttons and links inside pages, decided by
    the same ``@role_required`` as the view."""
    return _allowed(current_user._get_current_object(), endpoint)


def _allowed(user: Any, endpoint: str) -> bool:
    return bool(user.is_authenticated) and user.role in roles_for(endpoint)


@pass_context
def allowed_in_template(context: Context, endpoint: str) -> bool:
    """:func:`allowed` for templates, with the user the template already has."""
    return _allowed(template_user(context), endpoint)


def template_user(context: Context) -> Any:
    """The signed-in user of a template: Flask-Login's context processor puts it in the
    page's context; a macro imported without context falls back to the proxy (which resolves
    it again, as every use of the proxy does)."""
    user = context.get("current_user")
    return user if user is not None else current_user._get_current_object()


def init_app(app: Flask) -> None:
    app.jinja_env.globals["page_header"] = page_header
    app.jinja_env.globals["allowed"] = allowed_in_template

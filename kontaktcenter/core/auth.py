"""Login and role checks. Every page needs a login unless explicitly public.

The role a view needs is declared once, with ``@role_required`` at the route; the menu
(:mod:`kontaktcenter.core.navigation`) reads the same declaration, so a link is shown exactly to
the roles the view lets in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from kontaktcenter.core.extensions import login_manager
from kontaktcenter.core.roles import Role

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.forgot_password",
    "auth.reset_password",
    "static",
    "favicon",
}
ROLES_ATTRIBUTE = "allowed_roles"


def role_required(*roles: Role) -> Callable[[F], F]:
    """Allow only these roles at this route (403 otherwise). Admins pass every gate."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        return cast(F, wrapper)  # functools.wraps keeps the signature; mypy can't see it

    return decorator


def roles_for(endpoint: str) -> frozenset[Role]:
    """The roles `endpoint`'s view lets in: those of its ``@role_required``, or every role for a
    view that only needs a login."""
    view = current_app.view_functions.get(endpoint)
    if view is None:
        raise LookupError(f"No view for endpoint {endpoint!r}")
    allowed: frozenset[Role] = getattr(view, ROLES_ATTRIBUTE, frozenset(Role))
    return allowed


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Logga in för att fortsätta."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @app.get("/favicon.ico")
    def favicon() -> ResponseReturnValue:
        """Browsers ask for it before they read the page's <link rel="icon">."""
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    @app.before_request
    def require_login() -> ResponseReturnValue | None:
        """Secure by default: a new view cannot forget its login check."""
        if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint == "api":
            return None
        if request.endpoint is None:  # 404s render the error page
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None

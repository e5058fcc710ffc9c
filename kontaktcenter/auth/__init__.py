"""Login, logout and role checks. Every page needs a login unless explicitly public."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

from kontaktcenter.extensions import db, login_manager
from kontaktcenter.forms import parse_id
from kontaktcenter.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ENDPOINTS = {"auth.login", "static"}


def role_required(*roles: Role) -> Callable[[F], F]:
    """Allow only these roles at this route (403 otherwise). Admins pass every gate."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role != Role.ADMIN and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def home_for(user: User) -> str:
    if user.role == Role.HANDLER:
        return url_for("inbox.index")
    if user.role == Role.MANAGER:
        return url_for("overview.index")
    return url_for("queue.index")


def init_app(app: Flask) -> None:
    from kontaktcenter.auth.views import bp

    app.register_blueprint(bp)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Logga in för att fortsätta."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, uid) if (uid := parse_id(user_id)) else None
        return user if user is not None and user.active else None

    @app.before_request
    def require_login():
        """Secure by default: a new view cannot forget its login check."""
        if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint == "api":
            return None
        if request.endpoint is None:  # 404s render the error page
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None

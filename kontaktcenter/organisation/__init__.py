"""Departments, case types with their direct numbers, staff accounts and API tokens; login."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import admin, navigation


def init_app(app: Flask) -> None:
    from kontaktcenter.core import auth
    from kontaktcenter.organisation import (
        admin_views,
        auth_views,
        branding,
        branding_views,
        cli,
        directory_views,
        login_throttle,
        password_reset,
        sessions,
    )
    from kontaktcenter.organisation import services as organisation

    app.register_blueprint(auth_views.bp)
    app.register_blueprint(branding_views.bp)
    auth.PUBLIC_ENDPOINTS.add("branding.logo")  # the login page shows it
    app.jinja_env.globals["brand"] = branding.current
    app.register_blueprint(directory_views.bp)
    cli.init_app(app)
    navigation.add_item("Direktnummer", "directory.index", order=40)
    admin.add_panel(
        "admin/_panel_organisation.html", lambda: {"counts": organisation.counts()}, order=10
    )
    assert admin_views.bp is admin.bp
    assert password_reset  # registers its outbox task
    sessions.init_app(app)  # the user loader: which sessions and remember cookies still count
    login_throttle.init_app(app)

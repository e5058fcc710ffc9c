"""E-mail: parsing (pure), intake through three doors, threading, routing, outgoing mail."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import admin, periodic


def init_app(app: Flask) -> None:
    from kontaktcenter.channels.email import admin_views, cli, imap, settings, tasks, views

    app.register_blueprint(views.bp)
    cli.init_app(app)
    periodic.register(imap.poll_job, seconds=60)
    assert admin_views.bp is admin.bp and tasks
    admin.add_panel("admin/_panel_email.html", lambda: {"counts": settings.counts()}, order=40)

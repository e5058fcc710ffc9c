"""The Swedish business calendar (pure), the configured opening hours and exception days."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import admin


def init_app(app: Flask) -> None:
    from kontaktcenter.calendar import admin_views, services

    assert admin_views.bp is admin.bp
    admin.add_panel("admin/_panel_calendar.html", lambda: {"counts": services.counts()}, order=20)

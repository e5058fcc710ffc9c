"""Service goals: the promises a case carries, when each is due, the sweep that records
breaches, and the alerts it sends."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import admin, periodic


def init_app(app: Flask) -> None:
    from kontaktcenter.goals import admin_views, hooks, recompute, settings, sweep, tasks

    assert admin_views.bp is admin.bp and hooks and recompute and tasks
    periodic.register(sweep.sweep_job, seconds=60)
    admin.add_panel("admin/_panel_goals.html", lambda: {"counts": settings.counts()}, order=30)

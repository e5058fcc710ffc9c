"""Distribution (issue #14): the agent's status (tillgänglig, i samtal, rast, utbildning) and
the optional round-robin or least-loaded assignment of new e-mails and callbacks to available
agents, with a cap per agent.

It sits above callbacks (it assigns them) and below the pages (the live overview shows who is
available).
"""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import admin, periodic
from kontaktcenter.distribution import models  # noqa: F401  (models must be mapped)


def init_app(app: Flask) -> None:
    from kontaktcenter.distribution import admin_views, assignment, hooks, presence, tasks, views

    assert admin_views.bp is admin.bp
    hooks.init_app(app)
    app.register_blueprint(views.bp)
    app.before_request(presence.refresh_seen)
    periodic.register(tasks.sweep_job, seconds=60)
    app.jinja_env.globals["agent_status_html"] = presence.header_status_html
    admin.add_panel(
        "distribution/_panel.html",
        lambda: {"counts": {"settings": assignment.settings()}},
        order=35,
    )

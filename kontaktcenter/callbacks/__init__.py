"""Callbacks (återuppringningar) as a worklist that keeps the 24-hour promise (issue #14):
requests from the phone platform, e-services, the call form and cases; "ta nästa
återuppringning"; attempts under retry rules per case type; letters and e-mails when the
attempts run out.

It sits above the channels (an abandoned call in a queue that calls back becomes a callback)
and below the pages and distribution.
"""

from __future__ import annotations

from flask import Flask

from kontaktcenter.callbacks import models  # noqa: F401  (models must be mapped)
from kontaktcenter.core import admin, case_panels, navigation


def init_app(app: Flask) -> None:
    from kontaktcenter.callbacks import admin_views, hooks, views

    assert admin_views.bp is admin.bp and hooks  # hooks: receivers of the cases' and calls' signals
    app.register_blueprint(views.bp)
    navigation.add_item("Återuppringningar", "callbacks.index", order=25)
    admin.add_panel("callbacks/_admin_panel.html", admin_views.panel, order=35)
    # The case page (workspace) sits above callbacks: its side column shows the callback.
    case_panels.add_panel(
        case_panels.CasePanel(
            "callbacks",
            "callbacks/_case_panel.html",
            views.case_panel,
            20,
            probe=views.case_has_callback,
        )
    )

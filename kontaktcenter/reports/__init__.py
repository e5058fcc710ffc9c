"""What managers see: open work, overdue callbacks and breached goals (reports come here)."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import navigation


def init_app(app: Flask) -> None:
    from kontaktcenter.reports import views

    app.register_blueprint(views.bp)
    navigation.add_item("Översikt", "overview.index", order=50)

"""The phone: log a call, hand the caller over to a direct number."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import navigation


def init_app(app: Flask) -> None:
    from kontaktcenter.channels.phone import views

    app.register_blueprint(views.bp)
    navigation.add_item("Registrera samtal", "calls.new", order=20, accesskey="n")

"""The demo municipality "Exempelby kommun", built through the real services."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from kontaktcenter.demo import cli

    cli.init_app(app)

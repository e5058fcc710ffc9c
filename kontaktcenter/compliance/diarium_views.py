"""Pages of the compliance area: diarium."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this module's blueprint, menu entries, panels and jobs."""

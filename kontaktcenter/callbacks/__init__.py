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


def init_app(app: Flask) -> None:
    pass

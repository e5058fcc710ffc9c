"""Distribution (issue #14): the agent's status (tillgänglig, i samtal, rast, utbildning) and
the optional round-robin or least-loaded assignment of new e-mails and callbacks to available
agents, with a cap per agent.

It sits above callbacks (it assigns them) and below the pages (the live overview shows who is
available).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    pass

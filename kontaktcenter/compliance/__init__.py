"""Public-sector compliance (issue #15): secrecy settings, the readable audit log, gallring
(retention), GDPR register extracts, allmän-handling exports and the diarium hand-off.

It sits above the pages (workspace, reports, search) and the channels, because gallring and
register extracts reach into everything that holds personal data. The rules it decides about
access stay in ``cases/access.py``: this area is where people set and use them.
"""

from __future__ import annotations

from flask import Flask

from kontaktcenter.compliance import (  # noqa: F401  (models must be mapped)
    audit_views,
    diarium_views,
    export_views,
    extract_models,
    extract_views,
    retention_views,
    secrecy_views,
)


def init_app(app: Flask) -> None:
    from kontaktcenter.compliance import tasks  # registers the outbox tasks

    assert tasks
    for module in (
        secrecy_views,
        audit_views,
        retention_views,
        extract_views,
        export_views,
        diarium_views,
    ):
        module.init_app(app)

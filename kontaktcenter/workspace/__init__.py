"""The agents' and handlers' daily work: the queue, the department inbox, the case page."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import navigation


def init_app(app: Flask) -> None:
    from kontaktcenter.workspace import case_views, contact_views, inbox_views, queue_views

    for module in (queue_views, inbox_views, case_views, contact_views):
        app.register_blueprint(module.bp)
    from kontaktcenter.cases.enums import ActivityKind, CaseStatus
    from kontaktcenter.channels.email.models import Direction, MailStatus
    from kontaktcenter.workspace.queue_rows import due_badge

    app.jinja_env.globals["due_badge_markup"] = due_badge  # macros.html's due_badge
    # Templates compare with the enums, never with their values as strings.
    app.jinja_env.globals.update(
        ActivityKind=ActivityKind, CaseStatus=CaseStatus, Direction=Direction, MailStatus=MailStatus
    )
    secrecy_globals(app)


def secrecy_globals(app: Flask) -> None:
    """What every list needs to show a secret case's register fields only (cases.access)."""
    from kontaktcenter.cases import access, secrecy

    app.jinja_env.globals.update(
        sees_content=access.sees_content_in_template,
        secrecy_masked=secrecy.masked_text,
        secrecy_label=secrecy.label,
    )
    navigation.add_item("Kö", "queue.index", order=10)
    navigation.add_item("Inkorg", "inbox.index", order=30)

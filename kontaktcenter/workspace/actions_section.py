"""The case page's actions section, kept per process for each state it shows (issue #16).

The section (``cases/_actions.html``: the action groups, which are open, the forms' fields,
"Ta ärendet") is the same HTML for every case in the same state seen by a reader with the same
actions, but for the case's address, its version and the CSRF token. It was a tenth of the
page's work. It is rendered once for each state with placeholders for those three, and each
page puts in its own. A page with a posted form (its values and errors) is rendered as it is.
"""

from __future__ import annotations

from flask import render_template
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.core import rendered
from kontaktcenter.core.templating import id_url
from kontaktcenter.organisation.models import User
from kontaktcenter.workspace import case_page
from kontaktcenter.workspace.action_forms import PageForms


def actions_section(
    case: Case,
    user: User,
    page: PageForms,
    groups: list[case_page.Group],
    fields_html: dict[str, Markup],
    open_action: str | None,
) -> Markup:
    take = case.is_open and "take" in page.allowed and case.assignee_id != user.id
    resume = case.is_open and "resume" in page.allowed and case.status == CaseStatus.WAITING
    shown = {
        "groups": groups,
        "actions": page.allowed,
        "forms": page.built,
        "action_text": case_page.ACTION_TEXT,
        "fields_html": fields_html,
        "open_action": open_action,
        "case_open": case.is_open,
        "take": take,
        "resume": resume,
    }
    base = id_url("cases.show", case_id=case.id) + "/"
    version = str(case.version)
    csrf = generate_csrf()
    if open_action is not None or not set(page.built) <= {"reply"}:
        # a posted form, with its values and errors: this reader's text, never kept
        return Markup(
            render_template(
                "cases/_actions.html", act_base=base, version=version, csrf=csrf, **shown
            )
        )
    # Everything the template reads but the placeholders. No form with state goes in: the
    # reply (with the reader's signature) is not in this section.
    shown["forms"] = {}
    key = (
        "case-actions",
        tuple(groups),
        page.allowed,
        case.is_open,
        take,
        resume,
        tuple(fields_html.items()),
    )
    return rendered.once_filled(
        key,
        lambda: render_template(
            "cases/_actions.html",
            act_base=rendered.slot("base"),
            version=rendered.slot("version"),
            csrf=rendered.slot("csrf"),
            **shown,
        ),
        {"base": base, "version": version, "csrf": csrf},
    )

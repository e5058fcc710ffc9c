"""The case page's HTML: what it reads about the case and how it is put together.

Statements are kept to what the page shows (issue #16): the case comes with its type,
department, contact and people (``case_reads.visible_case``); the cases beside it (merged,
linked, the same person's) bring their case types in one statement, not one each; the reply's
addresses and subject are read once, not once per answer template.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user

from kontaktcenter.cases import access, relations
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.presenting import MessageView, answer_templates, message_views
from kontaktcenter.core import case_panels
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.goals import engine as goals
from kontaktcenter.goals import queries as goal_rows
from kontaktcenter.organisation.models import User
from kontaktcenter.workspace import action_forms, case_aside, case_page, forms
from kontaktcenter.workspace.actions_section import actions_section
from kontaktcenter.workspace.case_reads import Beside, hold_case_types
from kontaktcenter.workspace.timeline_html import timeline_section


def render(
    case: Case,
    page: action_forms.PageForms,
    status: int = 200,
    open_action: str | None = None,
    revealed: bool = False,
    beside: Beside | None = None,
):
    """The case page. `beside`: whether any other case relates to this one and the side
    panels' probes, if the caller read them with the case (``case_reads.visible_case_and_beside``);
    else they are asked here."""
    user: User = current_user._get_current_object()
    now = utcnow()
    # Rows, not a lazy load of case.goals: the page changes none of them.
    case_goals = [(goal, goals.state(case, goal, now)) for goal in goal_rows.visible_goals(case.id)]
    messages = message_views(case) if beside is None or beside.messages else []
    others = relations.has_others(case) if beside is None else beside.others
    absorbed = relations.merged_into_case(case) if others else []
    # Their case types decide whether the reader sees their content (secrecy): one statement
    # for all of them, kept while the page is built.
    held = hold_case_types(absorbed)
    # Cases merged into this one that the reader may see: a case routed on after a merge can
    # be seen by a department that may not see the first-line case it absorbed.
    merged = [c for c in absorbed if access.sees_content(user, c)]
    related = relations.related(user, case, merged, others=others)
    held += hold_case_types(r.case for r in related)
    allowed = page.allowed
    addresses = _reply_addresses(case, messages, allowed)
    groups, reply_open = case_page.arrange(
        case, allowed, open_action, has_mail=bool(messages), addresses=addresses
    )
    reply = None
    reply_form = page.built.get("reply")
    if reply_form is not None and case_page.reply_possible(case, allowed, addresses):
        reply = _reply(case, user, reply_form, addresses, reply_open)
    merged_into = case.merged_into
    timeline = relations.timeline(case, merged)
    return render_template(
        "cases/show.html",
        case=case,
        messages=messages,
        timeline_html=timeline_section(
            case,
            timeline,
            relations.visible_references(user, timeline),
            {v.message.id: v.message for v in messages},
        ),
        related=related,
        # The same person's other cases, offered for linking.
        candidates=relations.candidates(user, case),
        merged_into=merged_into if merged_into and access.can_view(user, merged_into) else None,
        reply=reply,
        groups=groups,
        actions=allowed,
        forms=page.built,
        actions_html=actions_section(
            case, user, page, groups, action_forms.pristine_fields(case, page), open_action
        ),
        open_action=open_action,
        panels=case_panels.panels_for(user, case, beside.panels if beside else None),
        contact_html=case_aside.contact_section(case, revealed),
        facts_html=case_aside.facts_sections(
            case,
            case_goals,
            beside.assignee_name if beside else case.assignee.name if case.assignee else None,
            beside.registrar_name if beside else case.created_by.name if case.created_by else None,
        ),
    ), status


def _reply_addresses(
    case: Case, messages: list[MessageView], allowed: frozenset[str]
) -> outbound.ReplyAddresses | None:
    """Where a reply would go, read once for the page (None: no reply from this page). A case
    without messages has no last message to take a Reply-To from: nothing to read."""
    if "reply" not in allowed or not case.is_open or case.merged_into_id is not None:
        return None
    if not messages:
        sender = case.contact.email if case.contact is not None and case.contact.email else None
        return outbound.ReplyAddresses(sender, None)
    return outbound.reply_addresses(case)


def _reply(
    case: Case,
    user: User,
    form: forms.ActionForm,
    addresses: outbound.ReplyAddresses | None,
    reply_open: bool,
) -> dict[str, Any]:
    assert isinstance(form, forms.ReplyForm)
    signature = outbound.signature(user)
    if not form.body.data:
        form.body.data = "\n\n" + signature
    templates = answer_templates()
    texts = []
    if templates:
        # outbound.template_text, with the case's values (and its subject's statement) once
        values = outbound.template_values(case, outbound.subject_line(case))
        texts = [
            (
                t.id,
                t.name,
                outbound.without_closing(outbound.render_template_text(t.body, **values)),
            )
            for t in templates
        ]
    return {
        "addresses": addresses if addresses is not None else outbound.reply_addresses(case),
        "subject": outbound.reply_subject(case),
        "signature": signature,
        "templates": texts,
        "open": reply_open,
    }

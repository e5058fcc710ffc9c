"""A case's e-mail as the case page shows it: sanitised HTML, quoted text folded, inline images
served from our own attachment URLs; the answer templates to start a reply from."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import url_for
from markupsafe import Markup

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.lookups import reused_message_ids
from kontaktcenter.channels.email.mime.sanitize import split_quoted
from kontaktcenter.channels.email.models import MailMessage, MailTemplate
from kontaktcenter.core.extensions import db

_CID = re.compile(r'src="cid:([^"]+)"')


@dataclass
class MessageView:
    message: MailMessage
    new_text: str
    quoted_text: str
    html: Markup | None
    reused_id: bool = False  # an older, different message has its Message-ID


@functools.cache
def _case_messages() -> Any:
    """A case's messages with their attachments, oldest first: built once (issue #16), on
    first use (the loader option configures the mappers, which needs every model imported)."""
    return (
        sa.select(MailMessage)
        .where(MailMessage.case_id == sa.bindparam("case_id"))
        .order_by(MailMessage.id)
        .options(sa.orm.selectinload(MailMessage.attachments))
    )


def message_views(case: Case) -> list[MessageView]:
    messages: list[MailMessage] = list(db.session.scalars(_case_messages(), {"case_id": case.id}))
    reused = reused_message_ids(messages)
    views = []
    for message in messages:
        new, quoted = split_quoted(message.text_body or "")
        html = _html(case, message)
        views.append(MessageView(message, new, quoted, html, message.id in reused))
    return views


def _html(case: Case, message: MailMessage) -> Markup | None:
    """The stored (already sanitised) HTML, with cid: images pointed at our attachments."""
    if not message.html_body:
        return None
    by_cid = {a.content_id.strip("<>"): a for a in message.attachments if a.content_id}

    def replace(match: re.Match[str]) -> str:
        attachment = by_cid.get(match.group(1).strip("<>"))
        if attachment is None:
            return 'src=""'
        url = url_for("messages.attachment", case_id=case.id, attachment_id=attachment.id, inline=1)
        return f'src="{url}"'

    return Markup(_CID.sub(replace, message.html_body))  # noqa: S704 - sanitised at intake


def answer_templates() -> list[MailTemplate]:
    return list(
        db.session.scalars(
            sa.select(MailTemplate)
            .where(MailTemplate.active.is_(True), MailTemplate.key.like("answer-%"))
            .order_by(MailTemplate.name)
        )
    )

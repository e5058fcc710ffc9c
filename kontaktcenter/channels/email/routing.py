"""Routing rules for incoming mail, and our own addresses (never a contact's)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g

from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import (
    Mailbox,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.core.extensions import db, forget_on_flush
from kontaktcenter.organisation.models import CaseType


def routing_rules() -> list[RoutingRule]:
    """The active rules of active case types, in the order admins set (one query, with the
    case types and their departments): read for every batch, so a change made in another
    process applies to the next one."""
    return list(
        db.session.scalars(
            sa.select(RoutingRule)
            .join(RoutingRule.case_type)
            .options(sa.orm.contains_eager(RoutingRule.case_type).joinedload(CaseType.department))
            .where(RoutingRule.active.is_(True), CaseType.active.is_(True))
            .order_by(RoutingRule.position, RoutingRule.id)
        ).unique()
    )


def route(parsed: ParsedMessage, rules: list[RoutingRule]) -> RoutingRule | None:
    """The first of `rules` (routing_rules()) that matches; else none."""
    recipients = {a.lower() for a in parsed.to_addrs + parsed.cc_addrs}
    domain = (parsed.from_addr or "").rsplit("@", 1)[-1]
    subject = parsed.subject.lower()
    for rule in rules:
        pattern = rule.pattern.strip().lower()
        if (
            (rule.kind == RuleKind.RECIPIENT and pattern in recipients)
            or (
                rule.kind == RuleKind.SENDER_DOMAIN
                and (domain == pattern or domain.endswith("." + pattern))
            )
            or (rule.kind == RuleKind.SUBJECT and pattern and pattern in subject)
        ):
            return rule
    return None


def own_addresses() -> set[str]:
    """Our mailboxes and sender address; read once per request or job (a poll of a whole
    mailbox, an import), again after a mailbox changed."""
    if "own_addresses" not in g:
        addresses = set(db.session.scalars(sa.select(Mailbox.address)))
        addresses.add(current_app.config.get("MAIL_FROM") or "")
        g.own_addresses = frozenset(a.lower() for a in addresses if a)
    return set(g.own_addresses)


forget_on_flush("own_addresses", Mailbox)

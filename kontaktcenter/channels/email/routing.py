"""Routing rules for incoming mail, and our own addresses (never a contact's)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from time import monotonic
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy.orm import Session

from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import (
    Mailbox,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.core.extensions import db, forget_on_flush
from kontaktcenter.organisation.models import CaseType

RULES_KEY = "kontaktcenter.mail_routing_rules"
_WRITING = "mail_routing_rules_written"  # Session.info: this transaction changed rules


@dataclass(frozen=True)
class Rule:
    """An active routing rule's fields, shareable between sessions and requests. Its case
    type is read in the transaction that files the mail (Batch.case_type), so a case type
    made inactive is never given to a case."""

    id: int
    kind: RuleKind
    pattern: str  # as the admin wrote it (shown in the activity)
    case_type_id: int
    to_department: bool

    @property
    def match(self) -> str:
        return self.pattern.strip().lower()


def routing_rules() -> list[Rule]:
    """The active rules of active case types, in the order admins set (one query): kept per
    process for MAIL_ROUTING_CACHE_SECONDS (default ORGANISATION_CACHE_SECONDS; 0 in the
    tests), as the organisation's names are. A change is seen at once in the process that made
    it (forgotten on flush and commit) and within the cache time in the others; a transaction
    changing rules never fills the cache. A case type switched off is seen at once everywhere
    (Batch.route reads the case types in the filing transaction)."""
    config = current_app.config
    ttl = config.get(
        "MAIL_ROUTING_CACHE_SECONDS",
        config.get("ORGANISATION_CACHE_SECONDS", config.get("CALENDAR_CACHE_SECONDS", 0)),
    )
    session = db.session()
    if ttl and (session.info.get(_WRITING) or _changing_rules(session)):
        ttl = 0
    cache = current_app.extensions.setdefault(RULES_KEY, {})
    cached = cache.get("rules")
    if ttl and cached is not None and monotonic() - cached[0] < ttl:
        rules: list[Rule] = cached[1]
        return rules
    rules = [
        Rule(row.id, row.kind, row.pattern, row.case_type_id, row.to_department)
        for row in db.session.execute(
            sa.select(
                RoutingRule.id,
                RoutingRule.kind,
                RoutingRule.pattern,
                RoutingRule.case_type_id,
                RoutingRule.to_department,
            )
            .join(CaseType, CaseType.id == RoutingRule.case_type_id)
            .where(RoutingRule.active.is_(True), CaseType.active.is_(True))
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    ]
    if ttl:
        cache["rules"] = (monotonic(), rules)
    return rules


def forget_rules() -> None:
    """Drop the process's cached routing rules (the next batch reads them again)."""
    if has_app_context():
        current_app.extensions.get(RULES_KEY, {}).pop("rules", None)


def _changing_rules(session: Session) -> bool:
    changed = itertools.chain(session.new, session.dirty, session.deleted)
    return any(isinstance(obj, RoutingRule | CaseType) for obj in changed)


@sa.event.listens_for(Session, "after_flush")
def _note_rule_writes(session: Session, _context: object) -> None:
    if _changing_rules(session):
        session.info[_WRITING] = True
        forget_rules()


@sa.event.listens_for(Session, "after_commit")
def _after_rules_commit(session: Session) -> None:
    if session.info.pop(_WRITING, False):
        forget_rules()  # read again, committed, by the next batch


@sa.event.listens_for(Session, "after_soft_rollback")
def _after_rules_rollback(session: Session, previous: Any) -> None:
    if not previous.nested and session.info.pop(_WRITING, False):
        forget_rules()


def route(parsed: ParsedMessage, rules: list[Rule]) -> Rule | None:
    """The first of `rules` (routing_rules()) that matches; else none."""
    recipients = {a.lower() for a in parsed.to_addrs + parsed.cc_addrs}
    domain = (parsed.from_addr or "").rsplit("@", 1)[-1]
    subject = parsed.subject.lower()
    for rule in rules:
        pattern = rule.match
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


def active_case_types(rules: list[Rule]) -> dict[int, CaseType]:
    """The rules' case types that are active now, with their departments, read in the
    caller's transaction: the rules may be cached, a case type switched off must not be."""
    ids = sorted({rule.case_type_id for rule in rules})
    return {
        case_type.id: case_type
        for case_type in db.session.scalars(
            sa.select(CaseType)
            .options(sa.orm.joinedload(CaseType.department))
            .where(CaseType.id.in_(ids), CaseType.active.is_(True))
        )
    }

"""Machine-generated mail: auto-replies, bounces (DSN/NDR), mailing lists, no-reply senders, loops.

Semantics follow /shared/mail-corpus/expectations.json: ``is_auto_reply`` means "machine-generated,
never send an automatic acknowledgement" (loop protection), so it is also true for bulk mail,
for auto-reply subject prefixes and for every bounce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .headers import Headers, message_ids, single_message_id
from .text import find_case_references

# Subject prefixes of out-of-office and other automatic replies. A colon is required, so that
# a citizen writing "Frånvaro för min dotter ..." is not taken for an auto-reply.
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatiskt svar|automatisk svar|autosvar|auto|autoreply|auto-reply|auto reply"
    r"|automatic reply|auto response|frånvaromeddelande|frånvaro|out of office(?: autoreply"
    r"| reply)?|abwesenheitsnotiz|fraværsmelding|fravær)\s*:",
    re.IGNORECASE,
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|returned to sender|delivery status notification|failure notice"
    r"|delivery fail|delivery has failed|mail delivery|non[- ]?delivery|not be delivered"
    r"|couldn't be delivered|could not deliver|message not delivered|delivery problem"
    r"|delivery notification|mail system error|kunde inte levereras|gick inte att leverera"
    r"|olevererbar|ej levererat|inte levererat|unzustellbar|nicht zustellbar|non remis",
    re.IGNORECASE,
)
_DAEMON = re.compile(
    r"^(?:mailer[-_.]?daemon|postmaster|mail[-_.]?delivery[-_.]?(?:system|subsystem)?"
    r"|mdaemon|bounce[sd]?)(?:[-+_.].*)?$",
    re.IGNORECASE,
)
_DAEMON_NAME = re.compile(
    r"^\s*(?:mailer[-_. ]?daemon|postmaster|mail delivery (?:system|subsystem)"
    r"|microsoft outlook|e-postsystem|e-posttjänst)\s*$",
    re.IGNORECASE,
)
_NO_REPLY = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|ne[-_.]?pas[-_.]?repondre"
    r"|svara[-_.]?inte|ej[-_.]?svar|mailer[-_.]?daemon|postmaster)(?:[-+_.].*)?$",
    re.IGNORECASE,
)
_LIST_HEADERS = (
    "list-id", "list-unsubscribe", "list-post", "list-help", "list-subscribe", "list-owner",
    "list-archive", "mailing-list", "x-mailing-list",
)  # fmt: skip
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
_FALSE_VALUES = {"no", "false", "0", "off"}
# RFC 5321 hop limits are 25 (sendmail) to 50 (Postfix); genuine mail rarely passes 15 hops.
LOOP_HOP_LIMIT = 25
_DSN_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_REPORT_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_BODY_STATUS = re.compile(r"\b([45]\.\d{1,3}\.\d{1,3})\b")
_BODY_MSGID = re.compile(r"^\s*message-id\s*:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_BODY_SUBJECT = re.compile(r"^\s*subject\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


@dataclass
class BounceInfo:
    """What a DSN/NDR says about the message that could not be delivered."""

    original_message_id: str | None = None
    original_subject: str | None = None
    failed_recipients: list[str] = field(default_factory=list)
    action: str | None = None  # "failed", "delayed", ... of the first recipient block
    status: str | None = None  # e.g. "5.1.1"
    diagnostic: str | None = None  # e.g. "smtp; 550 5.1.1 <x@y>: Recipient address rejected"
    reporting_mta: str | None = None
    case_references: list[str] = field(default_factory=list)  # from the original subject

    @property
    def is_permanent(self) -> bool:
        return bool(self.action == "failed" or (self.status or "").startswith("5"))


def local_part(addr: str | None) -> str:
    return (addr or "").rsplit("@", 1)[0].strip().strip('"').lower()


def is_daemon_sender(addr: str | None) -> bool:
    return bool(_DAEMON.match(local_part(addr)))


def is_no_reply_address(addr: str | None) -> bool:
    return bool(_NO_REPLY.match(local_part(addr)))


def _first_token(value: str | None) -> str:
    if not value:
        return ""
    return re.split(r"[;\s(]", value.strip(), maxsplit=1)[0].strip().lower()


def detect_bounce(
    headers: Headers,
    content_type: str,
    report_type: str,
    part_types: list[str],
    from_addr: str | None,
    from_name: str | None,
    subject: str,
    return_path: str | None,
) -> bool:
    """DSN/NDR: multipart/report;report-type=delivery-status, a delivery-status part, MTA
    bounce headers, or a daemon/postmaster/null sender combined with a bounce subject."""
    if content_type == "multipart/report" and report_type == "delivery-status":
        return True
    if any(t in _DSN_TYPES for t in part_types):
        return True
    if "x-failed-recipients" in headers or "x-ms-exchange-message-is-ndr" in headers:
        return True
    if not BOUNCE_SUBJECT.search(subject or ""):
        return False
    auto = _first_token(headers.get("auto-submitted"))
    return bool(
        is_daemon_sender(from_addr)
        or _DAEMON_NAME.match(from_name or "")
        or is_daemon_sender(return_path)
        or return_path == ""
        or (auto and auto != "no")
    )


def auto_reply_reasons(
    headers: Headers,
    subject: str,
    content_type: str,
    part_types: list[str],
    return_path: str | None,
    is_bounce: bool,
) -> list[str]:
    """Why the message counts as machine-generated (empty list: it does not)."""
    reasons = []
    if is_bounce:
        reasons.append("bounce")
    auto = _first_token(headers.get("auto-submitted"))
    if auto and auto != "no":
        reasons.append(f"Auto-Submitted: {auto}")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autogenerated"):
        value = headers.get(name)
        if value is not None and _first_token(value) not in _FALSE_VALUES:
            reasons.append(name)
    precedence = _first_token(headers.get("precedence"))
    if precedence in _AUTO_PRECEDENCE:
        reasons.append(f"Precedence: {precedence}")
    # Microsoft's request not to send automatic responses (set by Exchange on OOFs/NDRs and by
    # ticket systems to stop acknowledgement ping-pong). Our acknowledgement is an AutoReply.
    suppress = {
        t.strip().lower() for t in (headers.get("x-auto-response-suppress") or "").split(",")
    }
    if suppress & {"all", "autoreply"}:
        reasons.append("X-Auto-Response-Suppress")
    if AUTO_REPLY_SUBJECT.match(subject or ""):
        reasons.append("auto-reply subject")
    if return_path == "":
        reasons.append("null Return-Path")  # RFC 3834: never respond to a null reverse-path
    if content_type == "multipart/report" or "message/disposition-notification" in part_types:
        reasons.append("report")  # read receipts, abuse/feedback reports
    return reasons


def is_mailing_list(headers: Headers) -> bool:
    if any(name in headers for name in _LIST_HEADERS):
        return True
    return _first_token(headers.get("precedence")) == "list"


def hop_count(headers: Headers) -> int:
    return len(headers.get_all("received"))


def _dsn_field(value: str | None) -> str | None:
    """'rfc822; user@example.com' -> 'user@example.com'."""
    if not value:
        return None
    value = value.split(";", 1)[-1].strip().strip("<>").strip()
    return value or None


def bounce_info(
    dsn_blocks: list[Headers], original: Headers | None, headers: Headers, body_text: str
) -> BounceInfo:
    """Build BounceInfo from the delivery-status field blocks (first block: per-message
    fields), the returned message's headers and, as a fall-back, the human-readable text."""
    info = BounceInfo()
    recipients: list[Headers] = []
    for block in dsn_blocks:
        if block.get("final-recipient") or block.get("original-recipient"):
            recipients.append(block)
        elif info.reporting_mta is None and block.get("reporting-mta"):
            info.reporting_mta = _dsn_field(block.get("reporting-mta"))
    for block in recipients:
        action = (block.get("action") or "").strip().lower() or None
        status = _REPORT_STATUS.search(block.get("status") or "")
        status_code = status.group(1) if status else None
        failed = action == "failed" or (action is None and (status_code or "").startswith("5"))
        addr = _dsn_field(block.get("final-recipient")) or _dsn_field(
            block.get("original-recipient")
        )
        if failed and addr and addr.lower() not in info.failed_recipients:
            info.failed_recipients.append(addr.lower())
        if info.action is None or (failed and info.action != "failed"):
            info.action = action
            info.status = status_code
            info.diagnostic = (block.get("diagnostic-code") or "").strip() or None
    for value in headers.get_all("x-failed-recipients"):
        for addr in re.split(r"[,\s]+", value):
            addr = addr.strip("<>").lower()
            if "@" in addr and addr not in info.failed_recipients:
                info.failed_recipients.append(addr)
    if original is not None:
        info.original_message_id = single_message_id(original.get("message-id"))
        info.original_subject = original.text("subject")
    if info.original_message_id is None:
        found = _BODY_MSGID.search(body_text or "")
        if found:
            info.original_message_id = message_ids(found.group(1))[0]
    if info.original_subject is None:
        found = _BODY_SUBJECT.search(body_text or "")
        if found:
            info.original_subject = found.group(1).strip()
    if info.status is None:
        found = _BODY_STATUS.search(body_text or "")
        info.status = found.group(1) if found else None
    info.case_references = find_case_references(info.original_subject or "")
    return info

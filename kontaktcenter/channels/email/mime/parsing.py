"""parse_message(raw) -> ParsedMessage: everything derivable from a message's bytes alone.

Pure: no database, no Flask, no network. ``parse_message`` never raises.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesParser

from . import classify
from .authentication import HEADER as AUTHENTICATION_RESULTS
from .authentication import Finding, read_results
from .classify import BounceInfo
from .fingerprint import fingerprint
from .headers import (
    Headers,
    message_ids,
    parse_date,
    received_date,
    single_message_id,
)
from .parts import Attachment, PartScan, all_texts, content_type, defects, part_text, scan
from .sanitize import html_to_text, sanitize_html
from .text import contains_personnummer, find_case_references

__all__ = ["Attachment", "BounceInfo", "ParsedMessage", "parse_message", "peek"]

# What is rendered and extracted of a body, however large the message: the sanitiser and the
# text extraction run on at most this much (the rest is in the original, for download).
BODY_HTML_LIMIT = 500_000  # characters of HTML sanitised and turned into text
BODY_TEXT_LIMIT = 200_000  # characters of text kept as the body


@dataclass
class ParsedMessage:
    raw: bytes = field(repr=False)  # the exact input bytes
    message_id: str | None = None  # "<...>"
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_addr: str | None = None  # lower-cased addr-spec of the first From mailbox
    from_name: str | None = None
    to_addrs: list[str] = field(default_factory=list)
    cc_addrs: list[str] = field(default_factory=list)
    reply_to: str | None = None  # lower-cased addr-spec of the first Reply-To mailbox
    return_path: str | None = None  # topmost Return-Path without <>; "" for "<>"
    subject: str = ""
    date: datetime | None = None  # Date:, UTC
    received_at: datetime | None = None  # topmost dated Received, else Date; UTC
    text: str = field(default="", repr=False)
    html: str | None = field(default=None, repr=False)  # sanitised, safe for |safe
    attachments: list[Attachment] = field(default_factory=list)
    case_references: list[str] = field(default_factory=list)
    is_auto_reply: bool = False
    auto_reply_reasons: list[str] = field(default_factory=list)
    is_bounce: bool = False
    bounce: BounceInfo | None = None
    is_mailing_list: bool = False
    is_no_reply_sender: bool = False
    hop_count: int = 0  # number of Received headers
    is_loop_suspect: bool = False  # hop_count above classify.LOOP_HOP_LIMIT
    contains_personnummer: bool = False
    headers: list[tuple[str, str]] = field(default_factory=list, repr=False)  # decoded, unfolded
    defects: list[str] = field(default_factory=list)
    parse_error: str | None = None
    fingerprint: str = ""  # the content without what each delivery adds (mime/fingerprint.py)
    truncated: bool = False  # the body is longer than BODY_TEXT_LIMIT / BODY_HTML_LIMIT
    # What the Authentication-Results headers state about the From domain, read when parsed
    # (in parse-ahead's helper for a backlog); None: not read (trust.check reads them then).
    sender_findings: tuple[Finding, ...] | None = None

    def header(self, name: str) -> str | None:
        """First value of a top-level header (unfolded, 8-bit bytes decoded, encoded words
        left as they are), or None. For anything the named fields do not cover, e.g. X-Loop."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def attachment_filenames(self) -> list[str]:
        """Names of the parts that carry a file name (expectations.json semantics)."""
        return [a.filename for a in self.attachments if a.declared_filename]

    @property
    def response_address(self) -> str | None:
        """Where an automatic acknowledgement would go: Reply-To, else From; never a no-reply,
        mailer-daemon or postmaster address."""
        for addr in (self.reply_to, self.from_addr):
            if addr and "@" in addr and not classify.is_no_reply_address(addr):
                return addr
        return None

    @property
    def may_acknowledge(self) -> bool:
        """Bytes-level verdict for loop protection. Ingestion must still rate-limit per address
        and recognise its own outgoing messages (e.g. by Message-ID/X-Loop)."""
        return not (
            self.parse_error
            or self.is_auto_reply
            or self.is_bounce
            or self.is_mailing_list
            or self.is_loop_suspect
            or self.response_address is None
        )


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one RFC 5322 message. Never raises; problems end up in defects/parse_error."""
    if isinstance(raw, bytes):
        data = raw
    elif isinstance(raw, bytearray | memoryview):
        data = bytes(raw)
    else:
        return ParsedMessage(raw=b"", parse_error=f"indata är inte bytes ({type(raw).__name__})")
    try:
        pm = _parse(data)
    except Exception as exc:  # noqa: BLE001 - last line of defence
        pm = ParsedMessage(raw=data, parse_error=f"meddelandet kunde inte tolkas: {exc!r}"[:500])
    pm.fingerprint = fingerprint(data)
    return pm


PEEK_BYTES = 65_536
_HEADER_END = re.compile(rb"\r?\n\r?\n")  # the empty line that ends the header section


def peek(raw: bytes) -> ParsedMessage:
    """The sender and subject read from the first PEEK_BYTES alone: cheap whatever the size,
    for a message that is stored before it is parsed (what the admin's list of messages
    waiting to be filed shows). Never raises; the other fields stay empty."""
    pm = ParsedMessage(raw=b"")
    try:
        head = _header_start(bytes(raw[:PEEK_BYTES]), [])
        end = _HEADER_END.search(head)  # the parser is handed the header section alone:
        if end is not None:  # with headersonly it still reads the body line by line
            head = head[: end.start()] + b"\r\n\r\n"
        _fill_sender(pm, Headers(BytesParser(policy=policy.compat32).parsebytes(head, True)))
    except Exception:  # noqa: BLE001 - a peek is a courtesy: the message is parsed later
        pass
    return pm


def _first_addr(pairs: list[tuple[str, str]]) -> str | None:
    return next((addr.lower() for _name, addr in pairs if addr), None)


def _addr_list(pairs: list[tuple[str, str]]) -> list[str]:
    seen: dict[str, None] = {}
    for _name, addr in pairs:
        if addr:
            seen.setdefault(addr.lower(), None)
    return list(seen)


def _return_path(headers: Headers) -> str | None:
    value = headers.get("return-path")
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and ">" in value:
        value = value[1 : value.index(">")]
    return value.strip()


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")


def _header_start(data: bytes, problems: list[str]) -> bytes:
    """What to hand to the parser: without a leading byte-order mark or blank lines in front
    of the header block (seen in exported .eml files). ``raw`` itself is never changed."""
    body = data
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
        problems.append("byte order mark (BOM) före rubrikerna")
    stripped = body.lstrip(b"\r\n")
    if len(stripped) < len(body) and _HEADER_LINE.match(stripped):
        problems.append("tomma rader före rubrikerna")
        body = stripped
    return body


@contextmanager
def _guard(pm: ParsedMessage, what: str):
    """Keep going when one stage fails: the other fields are still worth having."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        pm.defects.append(f"{what} kunde inte tolkas ({type(exc).__name__})")


def _parse(data: bytes) -> ParsedMessage:
    pm = ParsedMessage(raw=data)
    if not data.strip():
        pm.parse_error = "tomt meddelande"
        return pm
    if data.startswith(_OLE_MAGIC):
        pm.parse_error = "Outlook .msg-fil (OLE-format), inte ett MIME-meddelande"
        return pm
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(_header_start(data, pm.defects))
    except Exception as exc:  # noqa: BLE001
        pm.parse_error = f"MIME-strukturen kunde inte tolkas: {exc!r}"[:500]
        return pm
    headers = Headers(msg)
    pm.headers = headers.items()
    if not len(headers):
        pm.parse_error = "inga rubrikrader (Från/Ämne/...) hittades"
    with _guard(pm, "rubrikerna"):
        _fill_headers(pm, headers)
        pm.sender_findings = read_results(pm.header_all(AUTHENTICATION_RESULTS), pm.from_addr)
    parts = PartScan()
    with _guard(pm, "MIME-delarna"):
        parts = scan(msg, "\r\n" if b"\r\n" in data[:65536] else "\n")
        _fill_body(pm, parts)
    with _guard(pm, "klassningen"):
        _classify(pm, msg, headers, parts)
    with _guard(pm, "personnummerkontrollen"):
        texts = [
            html_to_text(t[:BODY_HTML_LIMIT]) if ct == "text/html" else t
            for ct, t in all_texts(msg)
        ]
        pm.contains_personnummer = contains_personnummer("\n".join([pm.subject, *texts]))
    with _guard(pm, "felkontrollen"):
        pm.defects.extend(d for d in defects(msg) if d not in pm.defects)
        pm.defects.extend(p for p in dict.fromkeys(parts.problems) if p not in pm.defects)
    if pm.is_loop_suspect:
        pm.defects.append(f"{pm.hop_count} Received-rubriker: möjlig e-postslinga")
    return pm


def _fill_sender(pm: ParsedMessage, headers: Headers) -> None:
    from_pairs = headers.addresses("from")
    if from_pairs:
        pm.from_name = from_pairs[0][0].strip() or None
        pm.from_addr = _first_addr(from_pairs)
    pm.subject = headers.text("subject") or ""


def _fill_headers(pm: ParsedMessage, headers: Headers) -> None:
    pm.message_id = single_message_id(headers.get("message-id"))
    pm.in_reply_to = message_ids(headers.get("in-reply-to"))
    pm.references = message_ids(" ".join(headers.get_all("references")))
    _fill_sender(pm, headers)
    pm.to_addrs = _addr_list(headers.addresses("to"))
    pm.cc_addrs = _addr_list(headers.addresses("cc"))
    pm.reply_to = _first_addr(headers.addresses("reply-to"))
    pm.return_path = _return_path(headers)
    pm.case_references = find_case_references(pm.subject)
    pm.date = parse_date(headers.get("date"))
    if headers.get("date") is not None and pm.date is None:
        pm.defects.append("Date-rubriken kunde inte tolkas")
    # topmost Received that carries a readable date; else Date
    dates = (received_date(value) for value in headers.get_all("received"))
    pm.received_at = next((d for d in dates if d is not None), pm.date)


def _fill_body(pm: ParsedMessage, parts: PartScan) -> None:
    pm.attachments = parts.attachments
    plain = [t.strip("\n").rstrip() for t in parts.plain]
    pm.text = "\n\n".join(t for t in plain if t.strip())
    if parts.html:
        joined_html = "\n".join(parts.html)
        if len(joined_html) > BODY_HTML_LIMIT:
            joined_html, pm.truncated = joined_html[:BODY_HTML_LIMIT], True
        pm.html = sanitize_html(joined_html)
        if not pm.text.strip():
            pm.text = html_to_text(joined_html)
        lowered = joined_html.lower()
        for att in pm.attachments:  # Outlook: "attachment" disposition, yet shown via cid:
            if att.content_id and f"cid:{att.content_id.lower()}" in lowered:
                att.inline = True
    if not pm.text.strip() and not pm.html and parts.text_attachments:
        # No body, but text sent as a file (a text/plain part with a name, or a type Python
        # reads as text/plain because it is invalid): shown as the body too, kept as a file.
        texts = [part_text(part, "text/plain")[0] for part in parts.text_attachments]
        pm.text = "\n\n".join(t.strip("\n").rstrip() for t in texts if _readable(t))
    if len(pm.text) > BODY_TEXT_LIMIT:
        pm.text, pm.truncated = pm.text[:BODY_TEXT_LIMIT], True


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")


def _readable(text: str) -> bool:
    """Text rather than binary bytes behind a text type: hardly any control characters."""
    sample = text[:10_000]
    return bool(sample.strip()) and len(_CONTROL.findall(sample)) <= len(sample) // 100


def _classify(pm: ParsedMessage, msg, headers: Headers, parts: PartScan) -> None:
    top_type = content_type(msg)
    ctype_header = headers.structured("content-type")
    try:
        report_type = str(ctype_header.params.get("report-type") or "").lower()
    except Exception:  # noqa: BLE001 - no header, or no params on a broken one
        report_type = ""
    pm.is_bounce = classify.detect_bounce(
        headers,
        top_type,
        report_type,
        parts.part_types,
        pm.from_addr,
        pm.from_name,
        pm.subject,
        pm.return_path,
    )
    pm.auto_reply_reasons = classify.auto_reply_reasons(
        headers, pm.subject, top_type, parts.part_types, pm.return_path, pm.is_bounce
    )
    pm.is_auto_reply = bool(pm.auto_reply_reasons)
    if pm.is_bounce:
        pm.bounce = classify.bounce_info(parts.dsn_blocks, parts.original_headers, headers, pm.text)
    pm.is_mailing_list = classify.is_mailing_list(headers)
    pm.is_no_reply_sender = classify.is_no_reply_address(pm.from_addr)
    pm.hop_count = classify.hop_count(headers)
    pm.is_loop_suspect = pm.hop_count > classify.LOOP_HOP_LIMIT

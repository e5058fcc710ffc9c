"""kontaktcenter.channels.email.mime against the 400-message mail corpus in tests/data/mail-corpus.

The corpus is part of the repository and must be present: a missing corpus is a failure, never a
skip.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kontaktcenter.channels.email.mime import parse_message, safe_filename

CORPUS = Path(__file__).resolve().parent / "data" / "mail-corpus"
MISSING = CORPUS / "messages" / "<corpus missing>"
MESSAGES = sorted(CORPUS.glob("messages/**/*.eml")) or [MISSING]
SWEDISH_FIELDS = (
    "from_addr", "subject", "message_id", "received_at", "is_auto_reply", "is_bounce",
    "attachment_filenames", "contains_personnummer",
)  # fmt: skip
# MANIFEST tags are heuristic. Checked by hand: these are reliable enough to assert, with the
# listed exceptions (file -> why the tag and our verdict differ).
TAG_EXPECTATIONS = {
    "dsn": ("is_bounce", True),
    "bounce": ("is_bounce", True),
    "not-bounce": ("is_bounce", False),
    "auto-reply": ("is_auto_reply", True),
    "auto-submitted": ("is_auto_reply", True),
    "precedence:bulk": ("is_auto_reply", True),
    "precedence:junk": ("is_auto_reply", True),
    "precedence:list": ("is_auto_reply", True),
    "mdn": ("is_auto_reply", True),
    "arf": ("is_auto_reply", True),
    "mailing-list": ("is_mailing_list", True),
    "personnummer": ("contains_personnummer", True),
    "no-message-id": ("message_id", None),
}
TAG_EXCEPTIONS = {
    # Japanese KDDI bounce: plain text, subject "メールエラー通知", from no-reply@; nothing
    # language-independent marks it as a bounce.
    ("messages/sisimai-set-of-emails/bsd__lhost-kddi-01.eml", "bounce"),
}


def _rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix() if path.is_relative_to(CORPUS) else str(path)


@cache
def _json(name: str) -> dict:
    path = CORPUS / name
    assert path.is_file(), f"mail corpus missing: {path}"
    return json.loads(path.read_text("utf-8"))


@cache
def _parsed(path: Path):
    return parse_message(path.read_bytes())


def _expected() -> dict:
    try:
        return _json("expectations.json")["messages"]
    except AssertionError:
        return {}


def _manifest() -> list[dict]:
    try:
        return _json("MANIFEST.json")["messages"]
    except AssertionError:
        return []


def test_corpus_is_present_and_intact():
    assert CORPUS.is_dir(), f"mail corpus missing: {CORPUS}"
    entries = _json("MANIFEST.json")["messages"]
    assert len(MESSAGES) == len(entries) == 400
    on_disk = {_rel(p) for p in MESSAGES}
    assert on_disk == {e["path"] for e in entries}
    for entry in entries:
        data = (CORPUS / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]


class _HtmlAudit(HTMLParser):
    """Collects what must never survive sanitising."""

    FORBIDDEN_TAGS = {
        "script",
        "style",
        "iframe",
        "frame",
        "object",
        "embed",
        "form",
        "input",
        "button",
        "textarea",
        "select",
        "meta",
        "link",
        "base",
        "svg",
        "math",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name in ("id", "name", "class", "srcset", "background", "formaction"):
                self.problems.append(f"{tag} {name}=")
            if name == "src" and not value.startswith(("cid:", "data:image/")):
                self.problems.append(f"{tag} src={value[:60]}")
            if name == "href" and not value.startswith(
                ("http:", "https:", "mailto:", "tel:", "cid:", "#")
            ):
                self.problems.append(f"{tag} href={value[:60]}")
            if name == "style" and any(t in value for t in ("url(", "expression", "position")):
                self.problems.append(f"{tag} style={value[:60]}")

    handle_startendtag = handle_starttag


def html_problems(html: str) -> list[str]:
    audit = _HtmlAudit()
    audit.feed(html)
    audit.close()
    return audit.problems


def _is_utc(dt) -> bool:
    return dt.tzinfo is not None and dt.utcoffset() == timedelta(0)


def _db_safe(text: str) -> bool:
    """Storable in PostgreSQL text columns: valid UTF-8 (no lone surrogates), no NUL."""
    text.encode("utf-8")
    return "\x00" not in text


@pytest.mark.parametrize("path", MESSAGES, ids=_rel)
def test_every_message_parses_safely(path: Path):
    assert path.is_file(), f"mail corpus missing: {CORPUS}"
    raw = path.read_bytes()
    pm = parse_message(raw)

    assert pm.raw == raw
    assert isinstance(pm.subject, str)
    assert isinstance(pm.text, str)
    for dt in (pm.date, pm.received_at):
        assert dt is None or _is_utc(dt)
    for mid in [pm.message_id, *pm.in_reply_to, *pm.references]:
        assert mid is None or (mid.startswith("<") and mid.endswith(">") and " " not in mid)
    strings = [
        pm.subject,
        pm.text,
        pm.html or "",
        pm.from_name or "",
        pm.from_addr or "",
        *pm.to_addrs,
        *pm.cc_addrs,
        *pm.defects,
        *(v for _k, v in pm.headers),
    ]
    for att in pm.attachments:
        strings += [att.filename, att.declared_filename or "", att.content_type]
        assert isinstance(att.payload, bytes)
        assert att.size == len(att.payload)
        assert att.filename and safe_filename(att.filename) == att.filename
    assert all(_db_safe(s) for s in strings)
    if pm.from_addr:
        assert pm.from_addr == pm.from_addr.lower()
    if pm.is_bounce:
        assert pm.is_auto_reply and pm.bounce is not None
        assert not pm.may_acknowledge
    if pm.html is not None:
        assert "<script" not in pm.html.lower()
        assert html_problems(pm.html) == []


@pytest.mark.parametrize("name", sorted(_expected()) or ["<corpus missing>"])
def test_swedish_expectations(name: str):
    expected = _json("expectations.json")["messages"][name]
    pm = _parsed(CORPUS / "messages" / "swedish" / name)
    got = {
        "from_addr": pm.from_addr,
        "subject": pm.subject,
        "message_id": pm.message_id,
        "received_at": pm.received_at.strftime("%Y-%m-%dT%H:%M:%SZ") if pm.received_at else None,
        "is_auto_reply": pm.is_auto_reply,
        "is_bounce": pm.is_bounce,
        "attachment_filenames": pm.attachment_filenames,
        "contains_personnummer": pm.contains_personnummer,
    }
    assert got == {key: expected[key] for key in SWEDISH_FIELDS}
    assert pm.parse_error is None
    assert "\ufffd" not in pm.subject + pm.text


@pytest.mark.parametrize("tag", sorted(TAG_EXPECTATIONS))
def test_manifest_tags(tag: str):
    attr, want = TAG_EXPECTATIONS[tag]
    tagged = [e["path"] for e in _manifest() if tag in e["tags"]]
    assert tagged, f"no message tagged {tag!r} (corpus missing or changed?)"
    wrong = [
        path
        for path in tagged
        if getattr(_parsed(CORPUS / path), attr) != want and (path, tag) not in TAG_EXCEPTIONS
    ]
    assert wrong == []


def _swedish(name: str):
    return _parsed(CORPUS / "messages" / "swedish" / name)


def test_swedish_details():
    ack = _swedish("01_bygglov_utf8_8bit.eml")
    assert ack.may_acknowledge and ack.response_address == "anna.andersson@example.com"

    reply = _swedish("07_outlook_reply_sv_quoted_headers.eml")
    assert reply.case_references == ["KC-2026-000123"]
    assert "<20260310091402.A1F3@mail.example.com>" in reply.references

    assert _swedish("13_caseref_only_same_sender.eml").case_references == ["KC-2026-000123"]
    assert _swedish("11_thread2_garage_officer_reply.eml").in_reply_to == [
        "<CAHk7u3Pq2Zr0b5xXw1yV9tN4mLkJ8hGfEdCbA@mail.gmail.example>"
    ]

    dsn = _swedish("24_dsn_bounce_of_own_ack.eml")
    assert dsn.return_path == ""
    assert dsn.bounce.original_message_id == "<kc-2026-000125.ack.1@exempelkommun.example>"
    assert dsn.bounce.failed_recipients == ["okand.avsandare@example.net"]
    assert dsn.bounce.status == "5.1.1" and dsn.bounce.is_permanent
    assert dsn.bounce.case_references == ["KC-2026-000125"]
    assert [a.content_type for a in dsn.attachments] == [
        "message/delivery-status",
        "message/rfc822",
    ]

    ndr = _swedish("25_ndr_exchange_swedish.eml")
    assert ndr.case_references == ["KC-2026-000126"]
    assert ndr.bounce.failed_recipients

    hostile = _swedish("40_html_script_onerror_javascript_tracking_pixel.eml")
    assert "tracker.example" not in hostile.html and "evil.example" not in hostile.html
    assert "javascript" not in hostile.html.lower()

    related = _swedish("41_apple_mail_related_inline_image.eml")
    (image,) = related.attachments
    assert image.inline and f'src="cid:{image.content_id}"' in related.html

    forward = _swedish("52_forward_as_attachment_nested_rfc822.eml")
    (eml,) = forward.attachments
    assert eml.content_type == "message/rfc822"
    assert b"bild_fr%C3%A5n_balkongen.png" in eml.payload

    webform = _swedish("57_webform_one_very_long_line_reply_to.eml")
    assert webform.is_no_reply_sender and webform.response_address == "hanna.lund@example.com"

    loop = _swedish("58_mail_loop_80_received_huge_headers.eml")
    assert loop.hop_count == 80 and loop.is_loop_suspect and not loop.may_acknowledge
    assert len(loop.references) == 200

    assert "papperskorgar" in _swedish("60_apple_mail_format_flowed.eml").text
    assert not _swedish("22_precedence_bulk_newsletter.eml").may_acknowledge
    assert _swedish("22_precedence_bulk_newsletter.eml").is_mailing_list


def test_stdlib_trap_messages():
    pm = _parsed(CORPUS / "messages/jstedfast-mimekit/messages__delivery-status-no-blank-line.eml")
    assert pm.is_bounce and pm.to_addrs == []
    unknown = [e["path"] for e in _manifest() if "unknown-charset" in e["tags"]]
    assert len(unknown) == 4
    for path in unknown:
        assert _parsed(CORPUS / path).text.strip()
    outlook_msg = _parsed(CORPUS / "messages/spamscope-mail-parser/mail_outlook_1.eml")
    assert outlook_msg.parse_error and "Outlook" in outlook_msg.parse_error

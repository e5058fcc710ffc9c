"""Helpers for mail tests: the mail corpus (tests/data/mail-corpus) and hand-made messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "data" / "mail-corpus"
SWEDISH = CORPUS / "messages" / "swedish"


def corpus_messages() -> list[Path]:
    paths = sorted(CORPUS.glob("messages/**/*.eml"))
    assert paths, f"mail corpus missing at {CORPUS}"
    return paths


def expectations() -> dict:
    return json.loads((CORPUS / "expectations.json").read_text("utf-8"))["messages"]


def make_mail(
    *,
    sender: str = "anna@example.se",
    to: str = "kontakt@kommun.example",
    subject: str = "Fråga om bygglov",
    body: str = "Hej! Jag undrar hur lång tid ett bygglov tar.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    when: datetime | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(when or datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    message["Message-ID"] = message_id or make_msgid(domain="example.se")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def record_parse_aheads(monkeypatch) -> list:  # noqa: ANN001
    """The ParseAhead objects the code under test makes (to see what its helper parsed)."""
    from kontaktcenter.channels.email.parse_ahead import ParseAhead

    made: list[ParseAhead] = []
    original = ParseAhead.__init__

    def recording(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(ParseAhead, "__init__", recording)
    return made

"""Reading the outbox: without SMTP_URL, outgoing e-mail is written as .eml files to
``mailer.outbox_dir()``, and admins read them here.

Only plain names of files that are in that directory are opened: a name is looked up among the
directory's entries, never joined to the path as given, so ``../`` or an absolute path cannot
reach another file, and neither can a symbolic link placed in the directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from flask import current_app

from kontaktcenter.core import mailer

LIST_MAX = 200
HEAD_BYTES = 64 * 1024  # enough for the headers of any message we write
VIEW_MAX = 2 * 1024 * 1024
_PARSER = BytesParser(policy=policy.default)  # with this policy: EmailMessage objects


@dataclass
class OutboxItem:
    name: str
    modified: datetime
    size: int
    subject: str = ""
    to: str = ""
    sender: str = ""
    date: datetime | None = None  # the Date header, parsed (shown in Swedish, local time)


@dataclass
class OutboxMessage:
    item: OutboxItem
    text: str
    attachments: list[str] = field(default_factory=list)
    source: str = ""
    truncated: bool = False


def enabled() -> bool:
    """The outbox is only used when there is no SMTP server."""
    return not current_app.config.get("SMTP_URL")


def _files() -> list[Path]:
    folder = mailer.outbox_dir()
    return [
        p
        for p in folder.iterdir()
        if p.suffix == ".eml" and not p.name.startswith(".") and p.is_file() and not p.is_symlink()
    ]


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except (ValueError, TypeError, IndexError):  # a malformed header: show nothing
        return ""


def _item(path: Path, head: bytes) -> OutboxItem:
    stat = path.stat()
    parsed = _PARSER.parsebytes(head, headersonly=True)
    return OutboxItem(
        name=path.name,
        modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        size=stat.st_size,
        subject=_header(parsed, "Subject"),
        to=_header(parsed, "To"),
        sender=_header(parsed, "From"),
        date=_date(_header(parsed, "Date")),
    )


def _date(value: str) -> datetime | None:
    """RFC 5322's Date header as an aware datetime (the standard library's parser)."""
    try:
        parsed = parsedate_to_datetime(value) if value else None
    except (ValueError, TypeError, IndexError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def items(limit: int = LIST_MAX) -> tuple[list[OutboxItem], int]:
    """The newest messages first (at most `limit`), and how many there are in all."""
    files = sorted(_files(), key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    shown = []
    for path in files[:limit]:
        with path.open("rb") as handle:
            shown.append(_item(path, handle.read(HEAD_BYTES)))
    return shown, len(files)


def count() -> int:
    return len(_files()) if enabled() else 0


def read(name: str) -> OutboxMessage | None:
    """One message by its file name, or None if there is no such file in the outbox."""
    path = next((p for p in _files() if p.name == name), None)
    if path is None:
        return None
    with path.open("rb") as handle:
        raw = handle.read(VIEW_MAX + 1)
    truncated = len(raw) > VIEW_MAX
    raw = raw[:VIEW_MAX]
    item = _item(path, raw[:HEAD_BYTES])
    text, attachments = "", []
    try:
        message = _PARSER.parsebytes(raw)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content().replace("\r\n", "\n") if body is not None else ""
        attachments = [part.get_filename() or "(utan namn)" for part in message.iter_attachments()]
    except (ValueError, LookupError, TypeError):
        text = ""  # shown as source only
    return OutboxMessage(item, text, attachments, raw.decode("utf-8", "replace"), truncated)

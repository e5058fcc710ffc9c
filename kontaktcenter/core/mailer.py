"""Outgoing e-mail: SMTP when SMTP_URL is set, else .eml files in the instance outbox.

``smtp://user:pass@host:587`` uses STARTTLS when the server offers it; ``smtps://`` is implicit TLS.
The embedded default writes each message to ``instance/outbox/`` where admins can read it.
"""

from __future__ import annotations

import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app


def sender_address() -> str:
    return current_app.config.get("MAIL_FROM") or "kontaktcenter@localhost"


def header_text(value: str, limit: int = 250) -> str:
    """One line of text for a header: no CR/LF or other control characters, whatever came in
    from a citizen's subject or a multi-line summary."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(cleaned.split())[:limit]


def build(to: list[str], subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)  # CRLF line endings, as SMTP requires
    message["From"] = sender_address()
    message["To"] = ", ".join(to)
    message["Subject"] = header_text(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender_address().rsplit("@", 1)[-1])
    message["Auto-Submitted"] = headers.pop("auto_submitted", "auto-generated")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def outbox_dir() -> Path:
    path = Path(current_app.config.get("OUTBOX_DIR") or Path(current_app.instance_path) / "outbox")
    path.mkdir(parents=True, exist_ok=True)
    return path


def send(message: EmailMessage) -> None:
    recipients = [a.strip() for a in str(message["To"]).split(",") if a.strip()]
    send_raw(sender_address(), recipients, message.as_bytes(), message["Message-ID"])


def send_raw(sender: str, recipients: list[str], raw: bytes, message_id: str | None) -> None:
    """Deliver exactly these bytes, or raise (the job's retry takes over)."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        name = (message_id or "message").strip("<>").replace("@", "_").replace("/", "_")
        (outbox_dir() / f"{name}.eml").write_bytes(raw)
        return
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, context=context, timeout=30)
    elif parts.scheme == "smtp":
        client = smtplib.SMTP(host, port or 587, timeout=30)
    else:
        raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
    with client:
        client.ehlo()
        if parts.scheme == "smtp" and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        elif parts.username or current_app.config.get("SMTP_REQUIRE_TLS"):
            raise smtplib.SMTPNotSupportedError(
                "The SMTP server does not offer STARTTLS: not sending without encryption."
            )
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.sendmail(sender, recipients, raw)


def is_permanent(error: Exception) -> bool:
    """A failure that trying again cannot fix: a recipient or message refused with a 5xx reply,
    a certificate we do not trust, a server that would need a login without TLS, a bad
    SMTP_URL. Anything else (connection refused, timeouts, 4xx) is worth a retry."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _text in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return isinstance(
        error, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError | ValueError
    )

"""E-mail pages of a case: attachments, the original bytes, the message with remote images."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from flask import Blueprint, Response, abort
from flask_login import current_user
from markupsafe import escape

from kontaktcenter.cases import access
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.mime.parsing import BODY_HTML_LIMIT
from kontaktcenter.channels.email.mime.sanitize import sanitize_html
from kontaktcenter.channels.email.mime.text import safe_filename
from kontaktcenter.channels.email.models import MailAttachment, MailMessage
from kontaktcenter.core import audit
from kontaktcenter.core.extensions import db

bp = Blueprint("messages", __name__, url_prefix="/arenden")
TOO_LARGE = "Resten av meddelandet är för stort att visa – ladda ner originalet"


def _visible(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None or not access.sees_content(current_user, case):
        abort(404)
    return case


@bp.get("/<id:case_id>/bilagor/<id:attachment_id>")
def attachment(case_id: int, attachment_id: int):
    case = _visible(case_id)
    item = db.session.get(MailAttachment, attachment_id)
    if item is None or item.message.case_id != case.id:
        abort(404)
    audit.record(current_user, "download_attachment", case, attachment=item.id)
    inline_image = item.content_type in ("image/png", "image/gif", "image/jpeg", "image/webp")
    disposition = "inline" if inline_image else "attachment"
    return _download(
        mail_store.load(item.blob_sha256),
        item.filename,
        item.content_type if inline_image else "application/octet-stream",
        disposition,
    )


@bp.get("/<id:case_id>/meddelanden/<id:message_pk>/original")
def original(case_id: int, message_pk: int):
    """The message exactly as received or sent (for release of allmänna handlingar)."""
    case = _visible(case_id)
    message = db.session.get(MailMessage, message_pk)
    if message is None or message.case_id != case.id:
        abort(404)
    audit.record(current_user, "download_original", case, message=message.id)
    name = f"{case.reference}-{message.id}.eml"
    return _download(mail_store.load(message.raw_sha256), name, "message/rfc822", "attachment")


def _download(data: bytes, filename: str, content_type: str, disposition: str) -> Response:
    from urllib.parse import quote

    safe = safe_filename(filename)
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/<id:case_id>/meddelanden/<id:message_pk>/med-bilder")
def with_remote_images(case_id: int, message_pk: int):
    """The formatted message with its remote images, on purpose (a click): still sanitised, in a
    page of its own where only images may load and nothing can run."""
    case = _visible(case_id)
    message = db.session.get(MailMessage, message_pk)
    if message is None or message.case_id != case.id or not message.html_body:
        abort(404)
    html = _original_html(mail_store.load(message.raw_sha256))
    cut = html is not None and len(html) > BODY_HTML_LIMIT  # the sanitiser's work is bounded
    body = sanitize_html(html[:BODY_HTML_LIMIT], allow_remote_images=True) if html else None
    body = body or message.html_body or ""
    if cut or message.flags.get("truncated"):  # no link: this sandboxed page cannot download
        body += f"<p>{TOO_LARGE} från ärendet.</p>"
    page = (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        f"<title>{escape(message.subject or case.reference)}</title></head>"
        f"<body>{body}</body></html>"
    )
    # The whole message as sent, on purpose: logged like the case page (after composing the
    # page: the record commits, which expires what was read).
    audit.record(current_user, "view_message", case, message=message_pk, remote_images=True)
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; sandbox"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _original_html(raw: bytes) -> str | None:
    try:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        part = parsed.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else None
    except Exception:  # noqa: BLE001 - any odd message falls back to the stored version
        return None

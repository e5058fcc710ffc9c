"""Text sent as a file (issue #13, item 7): a message whose only text is a text/plain part with
a file name, or a part with an invalid type (read as text/plain), shows that text as its body
and keeps the file too. Binary bytes behind such a type are not shown as text."""

from __future__ import annotations

import base64
import gzip

from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.mime.parsing import parse_message
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.extensions import db
from tests.mailutil import CORPUS

REAL_WORLD = CORPUS / "messages"


def _filed(raw: bytes) -> MailMessage:
    result = ingest(raw)
    assert result.result == "created", result
    message = db.session.get(MailMessage, result.message_pk)
    assert message is not None
    return message


def test_an_invalid_content_type_with_a_name_shows_its_text_and_keeps_the_file(
    db_session, outbox, client, org, login
):
    raw = (REAL_WORLD / "jstedfast-mimekit" / "messages__missing-subtype.eml").read_bytes()
    message = _filed(raw)  # Content-Type: application-x-gzip; name="document.xml.gz"
    assert message.text_body == "blah blah blah"
    (attachment,) = message.attachments
    assert attachment.filename == "document.xml.gz"
    assert mail_store.load(attachment.blob_sha256) == b"blah blah blah\n"
    login(org.agent)
    page = client.get(f"/arenden/{message.case_id}").get_data(as_text=True)
    assert '<div class="mail-body">blah blah blah</div>' in page and "document.xml.gz" in page


def test_a_named_text_part_as_the_only_body_is_shown(db_session, outbox):
    raw = (REAL_WORLD / "apache-james-mime4j" / "russian-headers.eml").read_bytes()
    message = _filed(raw)
    assert message.text_body == "A simple body."
    assert [a.filename for a in message.attachments] == ["Список.doc"]


def test_a_text_file_beside_an_empty_body_part_is_shown(db_session, outbox):
    raw = (REAL_WORLD / "django-helpdesk" / "blank-body-with-attachment.eml").read_bytes()
    message = _filed(raw)
    assert message.text_body == "You shouldn't see this."
    assert [a.filename for a in message.attachments] == ["baf"]


def _with_file(payload: bytes, body: str | None) -> bytes:
    text = (
        f"--grans\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        if body is not None
        else ""
    )
    return (
        "From: Anna <anna@example.se>\r\nTo: kontakt@kommun.example\r\nSubject: Bilaga\r\n"
        "Message-ID: <bilaga@example.se>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="grans"\r\n\r\n'
        f"{text}--grans\r\nContent-Type: application-x-gzip; name=logg.gz\r\n"
        "Content-Disposition: attachment; filename=logg.gz\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{base64.encodebytes(payload).decode()}\r\n--grans--\r\n"
    ).encode()


def test_binary_bytes_behind_an_invalid_type_are_not_shown_as_text():
    compressed = gzip.compress(b"\x00\x01binary log " * 50, mtime=0)
    parsed = parse_message(_with_file(compressed, None))
    assert parsed.text == "" and [a.payload for a in parsed.attachments] == [compressed]


def test_a_real_body_is_not_replaced_by_a_text_file():
    parsed = parse_message(_with_file(b"loggrader\n", "Hej, loggen bifogas."))
    assert parsed.text == "Hej, loggen bifogas."
    assert [a.payload for a in parsed.attachments] == [b"loggrader\n"]

"""E-mail on the case view: reading messages safely, attachments, replying."""

import io
from email.message import EmailMessage

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import (
    MailKind,
    MailMessage,
    MailStatus,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.core.extensions import db
from tests.factories import post
from tests.mailutil import SWEDISH, make_mail


def _case(reference: str) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


def test_hostile_html_is_shown_sanitised(client, org, login, app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    raw = (SWEDISH / "40_html_script_onerror_javascript_tracking_pixel.eml").read_bytes()
    case = _case(ingest(raw).reference)
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Klagomål på snöröjningen" in html
    lowered = html.lower()
    assert "onerror" not in lowered and "javascript:" not in lowered
    assert "<script>alert" not in lowered
    app.config["OUTBOX_DIR"] = None


def test_attachments_download_with_safe_headers_and_only_for_the_case(
    client, org, login, app, tmp_path
):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    db.session.add(
        RoutingRule(
            position=1,
            kind=RuleKind.RECIPIENT,
            pattern="kontaktcenter@exempelkommun.example",
            case_type=org.bygglov,
        )
    )
    db.session.commit()
    raw = (SWEDISH / "50_attachments_rfc2231_swedish_filenames.eml").read_bytes()
    case = _case(ingest(raw).reference)
    attachment = case.messages[0].attachments[0]
    login(org.handler_bygg)
    response = client.get(f"/arenden/{case.id}/bilagor/{attachment.id}")
    assert response.status_code == 200
    assert response.data == mail_store.load(attachment.blob_sha256)
    assert "attachment;" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    original = client.get(f"/arenden/{case.id}/meddelanden/{case.messages[0].id}/original")
    assert original.data == raw
    login(org.handler_miljo)
    assert client.get(f"/arenden/{case.id}/bilagor/{attachment.id}").status_code == 404
    app.config["OUTBOX_DIR"] = None


def test_reply_from_case_view_is_sent_and_sets_first_response(client, org, login, app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    case = _case(ingest(make_mail(subject="Fråga om parkering")).reference)
    assert case.first_response_at is None
    login(org.agent)
    response = post(
        client,
        f"/arenden/{case.id}/reply",
        {
            "version": case.version,
            "body": "Hej! Du kan ansöka om parkeringstillstånd på webben.",
            "attachments": (io.BytesIO(b"%PDF-1.4 test"), "Blankett åäö.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    reply = db.session.scalars(
        sa.select(MailMessage).where(
            MailMessage.case_id == case.id, MailMessage.kind == MailKind.REPLY
        )
    ).one()
    assert reply.status == MailStatus.SENT and reply.recipient == "anna@example.se"
    assert reply.attachments[0].filename == "Blankett åäö.pdf"
    assert case.first_response_at is not None
    sent = mail_store.load(reply.raw_sha256).decode()
    assert f"[{case.reference}]" in reply.subject and "In-Reply-To:" in sent
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Du kan ansöka om parkeringstillstånd" in html and "Skickat" in html
    app.config["OUTBOX_DIR"] = None


def test_reply_validation(client, org, login, app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    case = _case(ingest(make_mail()).reference)
    login(org.agent)
    response = post(client, f"/arenden/{case.id}/reply", {"version": case.version, "body": ""})
    assert response.status_code == 422 and "Skriv ett svar." in response.get_data(as_text=True)
    app.config["OUTBOX_DIR"] = None


def test_pages_carry_a_strict_content_security_policy(client, org, login):
    login(org.agent)
    response = client.get("/ko/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "img-src 'self' data:" in csp
    assert response.headers["X-Frame-Options"] == "DENY"


def test_remote_images_load_only_on_purpose_in_a_sandboxed_page(client, org, login, app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    html = (
        '<p>Se bild</p><img src="https://tracker.example/pixel.gif">'
        '<img src="x" onerror="alert(1)"><script>alert(2)</script>'
    )
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.se", "k@kommun.example", "Bild"
    message["Message-ID"] = "<img1@example.se>"
    message.set_content("Se bild")
    message.add_alternative(html, subtype="html")
    case = _case(ingest(message.as_bytes()).reference)
    login(org.agent)
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "tracker.example" not in page and "Öppna med externa bilder" in page
    mid = case.messages[0].id
    opened = client.get(f"/arenden/{case.id}/meddelanden/{mid}/med-bilder")
    body = opened.get_data(as_text=True)
    assert "https://tracker.example/pixel.gif" in body
    assert "onerror" not in body and "<script" not in body
    assert "sandbox" in opened.headers["Content-Security-Policy"]
    app.config["OUTBOX_DIR"] = None


def test_reply_on_a_case_with_a_multiline_summary_and_crlf_subject(
    client, org, login, app, tmp_path
):
    from kontaktcenter.channels.email import outbound

    app.config["OUTBOX_DIR"] = str(tmp_path)
    raw = make_mail(subject="=?utf-8?q?Fr=C3=A5ga=0D=0ABcc:_evil@example.net?=")
    case = _case(ingest(raw).reference)
    case.summary = "Fråga om altan.\nVill ha svar via mejl."
    db.session.commit()
    reply = outbound.reply(case, org.agent, "Svar")
    sent = mail_store.load(reply.raw_sha256)
    assert reply.status == MailStatus.SENT
    assert not any(line.lower().startswith(b"bcc:") for line in sent.split(b"\r\n"))
    assert "\n" not in reply.subject and "\r" not in reply.subject
    app.config["OUTBOX_DIR"] = None

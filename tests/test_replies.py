"""Replies from the case page: the subject is the case's subject line, the signature is the
sender's own, a template is added to what is written (also without JavaScript), and sending
says what happens next."""

from __future__ import annotations

import re

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailKind, MailMessage, MailTemplate
from kontaktcenter.core import outbox as outbox_module
from kontaktcenter.core.extensions import db
from tests.factories import make_case, post
from tests.mailutil import make_mail

TEMPLATE = (
    "Hej {namn}!\n\nDu hittar blanketten för {ämne} på webben.\n\n"
    "Vänliga hälsningar\nKontaktcenter, Exempelby kommun"
)


def _mail_case(subject: str = "Fråga om bygglov", **kwargs) -> Case:
    reference = ingest(make_mail(subject=subject, **kwargs)).reference
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


def _template() -> MailTemplate:
    template = MailTemplate(key="answer-blankett", name="Blankett", subject="", body=TEMPLATE)
    db.session.add(template)
    db.session.commit()
    return template


def _textarea(html: str) -> str:
    match = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, "no reply box"
    import html as html_module

    text = html_module.unescape(match.group(1))
    return text.removeprefix("\r\n") if text.startswith("\r\n") else text.removeprefix("\n")


def test_the_subject_is_the_cases_subject_line(org, outbox):
    case = _mail_case("VB: Re: SV: [KC-2026-000123] Fråga om  bygglov")
    assert outbound.subject_line(case) == "Fråga om bygglov"
    assert outbound.reply_subject(case) == f"Sv: [{case.reference}] Fråga om bygglov"
    reply = outbound.reply(case, org.agent, "Hej! Svar kommer.")
    assert reply.subject == f"Sv: [{case.reference}] Fråga om bygglov"
    # A phone case answered by mail: the summary's first line, shortened; never the whole text.
    phone = make_case(
        org.agent,
        org.bygglov,
        summary="Vill veta om hon behöver bygglov för ett uterum på femton kvadratmeter "
        "på Ekbacken 3:12.\nRing efter lunch.",
    )
    line = outbound.subject_line(phone)
    assert len(line) <= 61 and line.endswith("…") and "Ring" not in line
    assert outbound.subject_line(make_case(org.agent, org.bygglov, summary="Kort")) == "Kort"


def test_the_signature_is_the_senders_profile(org):
    agent = org.agent
    assert outbound.signature(agent) == "Vänliga hälsningar\nAgnes Agent\nKontaktcenter"
    assert outbound.signature(org.handler_bygg).endswith("Stadsbyggnadskontoret")
    agent.title, agent.unit, agent.phone = "Kommunvägledare", "Medborgarservice", "08-123 00 00"
    db.session.commit()
    assert outbound.signature(agent) == (
        "Vänliga hälsningar\nAgnes Agent\nKommunvägledare\nMedborgarservice\n08-123 00 00"
    )


def test_admins_set_the_profile_where_users_are_edited(client, org, login):
    login(org.admin)
    user = org.handler_bygg
    form = {
        "name": user.name,
        "role": "handler",
        "departments": [str(org.bygg.id)],
        "active": "y",
        "title": " Bygglovshandläggare ",
        "unit": "Bygglovsenheten",
        "phone": "",
    }
    response = post(client, f"/admin/anvandare/{user.id}", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert (user.title, user.unit, user.phone) == ("Bygglovshandläggare", "Bygglovsenheten", None)
    page = client.get(f"/admin/anvandare/{user.id}").get_data(as_text=True)
    assert "Signatur i e-postsvar" in page and 'value="Bygglovsenheten"' in page
    response = post(client, f"/admin/anvandare/{user.id}", form | {"title": "x" * 200})
    assert response.status_code == 422


def test_the_reply_box_starts_with_the_signature_and_a_bare_signature_is_not_sent(
    client, org, login, outbox
):
    case = _mail_case()
    login(org.agent)
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert _textarea(page) == "\n\n" + outbound.signature(org.agent)
    assert f"Sv: [{case.reference}] Fråga om bygglov" in page
    # As a browser sends it: every line break CRLF, the signature's own ones too.
    bare = ("\n\n" + outbound.signature(org.agent)).replace("\n", "\r\n")
    response = post(client, f"/arenden/{case.id}/reply", {"version": case.version, "body": bare})
    assert response.status_code == 422
    assert "Skriv ett svar ovanför signaturen." in response.get_data(as_text=True)


def test_inserting_a_template_without_javascript_keeps_the_text(client, org, login, outbox):
    case = _mail_case()
    template = _template()
    login(org.agent)
    signature = outbound.signature(org.agent)
    typed = "Tack för ditt samtal i morse."
    response = post(
        client,
        f"/arenden/{case.id}/reply",
        {
            "version": case.version,
            "body": typed + "\r\n\r\n" + signature,
            "mall": str(template.id),
            "infoga": "1",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    body = _textarea(response.get_data(as_text=True))
    assert body == (
        f"{typed}\n\nHej Anna!\n\nDu hittar blanketten för Fråga om bygglov på webben."
        f"\n\n{signature}"
    ) or body.startswith(typed)
    assert body.startswith(typed) and body.endswith(signature)
    assert "Exempelby kommun" not in body  # the template's own closing gives way
    assert body.count("Vänliga hälsningar") == 1
    # Nothing was sent, and a bad choice is a message, not an error.
    assert (
        db.session.scalars(sa.select(MailMessage).where(MailMessage.kind == MailKind.REPLY)).all()
        == []
    )
    for bad in ("", "abc", "999999", "1" * 30):
        response = post(
            client,
            f"/arenden/{case.id}/reply",
            {"version": case.version, "body": typed, "mall": bad, "infoga": "1"},
        )
        assert response.status_code == 200
        assert _textarea(response.get_data(as_text=True)) == typed


def test_insert_text_places_the_template_above_the_signature():
    sig = "Vänliga hälsningar\nA"
    assert outbound.insert_text("\n\n" + sig, "Mall", sig) == "Mall\n\n" + sig
    assert outbound.insert_text("Hej\r\n\r\n" + sig, "Mall", sig) == "Hej\n\nMall\n\n" + sig
    assert outbound.insert_text("Utan signatur", "Mall", sig) == "Utan signatur\n\nMall"
    assert outbound.without_closing("A\n\nMed vänlig hälsning\nB") == "A"
    assert outbound.without_closing("Vänliga hälsningar") == "Vänliga hälsningar"
    assert outbound.without_closing("A\n\nB") == "A\n\nB"


def test_sending_says_what_happens_next(client, org, login, outbox, monkeypatch):
    case = _mail_case()
    login(org.agent)
    # Delivery after the commit has not happened yet when the page answers: "in the queue".
    monkeypatch.setattr(outbox_module, "dispatch", lambda *a, **k: None)
    response = post(
        client,
        f"/arenden/{case.id}/reply",
        {"version": case.version, "body": "Hej! Blanketten finns på webben."},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Svaret till anna@example.se ligger i kö och skickas inom någon minut." in page
    assert "i kö, skickas strax" in page  # the timeline's entry shows the message's state
    reply = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.kind == MailKind.REPLY)
    ).one()
    assert reply.subject == f"Sv: [{case.reference}] Fråga om bygglov"


def test_sending_when_delivered_at_once_says_so(client, org, login, outbox):
    case = _mail_case()
    login(org.agent)
    response = post(
        client,
        f"/arenden/{case.id}/reply",
        {"version": case.version, "body": "Hej! Blanketten finns på webben."},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Svaret är skickat till anna@example.se." in page

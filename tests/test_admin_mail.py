"""Administration of e-mail: mailboxes, routing rules, templates, unfiled messages, the outbox."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import intake as mail_intake
from kontaktcenter.channels.email import settings as mail_settings
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import (
    Mailbox,
    MailMessage,
    MailStatus,
    MailTemplate,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.factories import post
from tests.mailutil import make_mail

MODULE = "kontaktcenter.channels.email.admin_views"
NON_ADMINS = ["agent", "handler_bygg", "manager"]


@pytest.fixture
def outbox(app, tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir()
    app.config["OUTBOX_DIR"] = str(folder)
    yield folder
    app.config["OUTBOX_DIR"] = None


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _unreadable(monkeypatch, **mail) -> MailMessage:
    """A message the parser failed on (a bug since fixed): kept raw, with the reason."""
    real = mail_intake.parse_message

    def broken(raw: bytes):
        parsed = real(raw)
        parsed.parse_error = "MIME-strukturen kunde inte tolkas"
        return parsed

    monkeypatch.setattr(mail_intake, "parse_message", broken)
    result = ingest(make_mail(**mail))
    monkeypatch.setattr(mail_intake, "parse_message", real)
    message = db.session.get(MailMessage, result.message_pk)
    assert message.status == MailStatus.UNREADABLE
    return message


@pytest.fixture
def rows(org, outbox, monkeypatch):
    mailbox = Mailbox(
        address="kontakt@kommun.example",
        name="Kontaktcenter",
        imap_host="imap.kommun.example",
        imap_user="kontakt",
        password_env="IMAP_PASSWORD_KONTAKT",
    )
    rule = RoutingRule(kind=RuleKind.SUBJECT, pattern="bygglov", case_type=org.bygglov)
    template = MailTemplate(key="answer-tack", name="Tack", body="Tack för ditt meddelande.")
    db.session.add_all([mailbox, rule, template])
    db.session.commit()
    message = _unreadable(monkeypatch, subject="Trasig")
    (outbox / "one.eml").write_bytes(make_mail(subject="Utgående"))
    return mailbox, rule, template, message


def _routes(rows) -> list[tuple[str, str]]:
    mailbox, rule, template, message = rows
    return [
        ("GET", "/admin/brevlador/"),
        ("GET", "/admin/brevlador/ny"),
        ("POST", "/admin/brevlador/ny"),
        ("GET", f"/admin/brevlador/{mailbox.id}"),
        ("POST", f"/admin/brevlador/{mailbox.id}"),
        ("GET", "/admin/sorteringsregler/"),
        ("GET", "/admin/sorteringsregler/ny"),
        ("POST", "/admin/sorteringsregler/ny"),
        ("GET", f"/admin/sorteringsregler/{rule.id}"),
        ("POST", f"/admin/sorteringsregler/{rule.id}"),
        ("POST", f"/admin/sorteringsregler/{rule.id}/flytta"),
        ("POST", f"/admin/sorteringsregler/{rule.id}/ta-bort"),
        ("GET", "/admin/mallar/"),
        ("GET", "/admin/mallar/kvittens"),
        ("POST", "/admin/mallar/kvittens"),
        ("GET", "/admin/mallar/ny"),
        ("POST", "/admin/mallar/ny"),
        ("GET", f"/admin/mallar/{template.id}"),
        ("POST", f"/admin/mallar/{template.id}"),
        ("GET", "/admin/ej-kopplade/"),
        ("GET", f"/admin/ej-kopplade/{message.id}/original"),
        ("POST", f"/admin/ej-kopplade/{message.id}/behandla-igen"),
        ("GET", "/admin/utkorg/"),
        ("GET", "/admin/utkorg/one.eml"),
    ]


def test_every_route_is_covered(app, rows):
    adapter = app.url_map.bind("localhost")
    listed = {(adapter.match(path, method)[0], method) for method, path in _routes(rows)}
    registered = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
        and app.view_functions[rule.endpoint].__module__ == MODULE
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert listed == registered


@pytest.mark.parametrize("role", NON_ADMINS)
def test_non_admins_get_403_everywhere(client, org, rows, login, role):
    login(getattr(org, role))
    data = {
        "address": "hack@kommun.example",
        "name": "Hack",
        "imap_host": "evil.example",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_user": "x",
        "password_env": "IMAP_X",
        "folder": "INBOX",
        "kind": "subject",
        "pattern": "hack",
        "case_type": str(org.bygglov.id),
        "direction": "up",
        "subject": "Hack",
        "body": "Hackad",
        "active": "y",
    }
    for method, path in _routes(rows):
        response = client.get(path) if method == "GET" else post(client, path, data)
        assert response.status_code == 403, (role, method, path)
        assert "Åtkomst nekad" in response.get_data(as_text=True)
    assert (_count(Mailbox), _count(RoutingRule), _count(MailTemplate)) == (1, 1, 1)
    assert rows[3].status == MailStatus.UNREADABLE and _count(Case) == 0
    assert _count(AuditEvent) == 0


def test_anonymous_is_sent_to_login_and_posts_need_csrf(client, org, rows, login):
    for method, path in _routes(rows):
        response = client.get(path) if method == "GET" else post(client, path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    login(org.admin)
    for path in [path for method, path in _routes(rows) if method == "POST"]:
        response = client.post(path, data={"direction": "up", "name": "x", "body": "x"})
        assert response.status_code == 400, path
        assert "säkerhetstoken" in response.get_data(as_text=True)
    assert _count(RoutingRule) == 1 and _count(MailTemplate) == 1 and _count(Case) == 0


def test_admin_index_counts_and_links(client, org, rows, login):
    login(org.admin)
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/ej-kopplade/">Ej kopplade meddelanden</a>: <strong>1</strong>' in html
    assert 'href="/admin/utkorg/">Utkorg</a>: 1 meddelande (' in html
    for path in ("/admin/brevlador/", "/admin/sorteringsregler/", "/admin/mallar/"):
        assert f'href="{path}"' in html


# --- mailboxes -----------------------------------------------------------------------------------


def _mailbox_form(**changes) -> dict[str, str]:
    form = {
        "address": "Bygglov@Kommun.example",
        "name": "Bygglov",
        "imap_host": "imap.kommun.example",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_user": "bygglov",
        "password_env": "IMAP_PASSWORD_BYGGLOV",
        "folder": "INBOX",
        "processed_folder": "Arkiv",
        "active": "y",
    }
    return form | changes


def test_mailbox_stores_the_variable_name_and_shows_only_whether_it_is_set(
    client, org, login, monkeypatch
):
    monkeypatch.setenv("IMAP_PASSWORD_BYGGLOV", "hemligt-losenord-123")
    login(org.admin)
    response = post(client, "/admin/brevlador/ny", _mailbox_form())
    assert response.status_code == 302
    mailbox = db.session.scalars(sa.select(Mailbox)).one()
    assert mailbox.address == "bygglov@kommun.example"
    assert mailbox.password_env == "IMAP_PASSWORD_BYGGLOV" and mailbox.processed_folder == "Arkiv"
    html = client.get("/admin/brevlador/").get_data(as_text=True)
    assert "<code>IMAP_PASSWORD_BYGGLOV</code>: finns" in html
    assert "hemligt-losenord-123" not in html
    html = client.get(f"/admin/brevlador/{mailbox.id}").get_data(as_text=True)
    assert "finns i servern" in html and "hemligt-losenord-123" not in html
    monkeypatch.delenv("IMAP_PASSWORD_BYGGLOV")
    assert "<strong>saknas</strong>" in client.get("/admin/brevlador/").get_data(as_text=True)
    # Edit: deactivate and drop the processed folder.
    changed = _mailbox_form(processed_folder="", active="")
    assert post(client, f"/admin/brevlador/{mailbox.id}", changed).status_code == 302
    db.session.refresh(mailbox)
    assert not mailbox.active and mailbox.processed_folder is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password_env": "SECRET_KEY"}, "som innehåller IMAP"),
        ({"password_env": "imap_lower"}, "som innehåller IMAP"),
        ({"imap_security": "none"}, "Okrypterad IMAP är bara tillåten mot den egna datorn"),
        ({"imap_port": "99999"}, "Ange port som ett heltal mellan 1 och 65535."),
        ({"imap_host": "imap kommun"}, "Ange serverns namn"),
        ({"address": "kontakt@kommun.example"}, "Det finns redan en brevlåda med den adressen."),
        ({"address": "inte-en-adress"}, "Ange en giltig e-postadress."),
        ({"processed_folder": "INBOX"}, "Välj en annan mapp än den som läses."),
    ],
)
def test_invalid_mailboxes_are_refused(client, org, rows, login, changes, message):
    login(org.admin)
    response = post(client, "/admin/brevlador/ny", _mailbox_form(**changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count(Mailbox) == 1


def test_unencrypted_imap_is_allowed_to_localhost(org):
    data = mail_settings.MailboxData(
        address="test@kommun.example",
        name="Test",
        imap_host="127.0.0.1",
        imap_user="test",
        password_env="KC_TEST_IMAP_PASSWORD",
        imap_port=1143,
        imap_security="none",
    )
    assert mail_settings.save_mailbox(None, data).imap_security == "none"


# --- routing rules -------------------------------------------------------------------------------


def _case_of(**mail) -> Case:
    reference = ingest(make_mail(**mail)).reference
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


def test_routing_rules_first_match_wins_and_the_order_can_be_changed(client, org, login, outbox):
    login(org.admin)
    noise = {"kind": "subject", "pattern": "Buller", "case_type": str(org.miljotillsyn.id)}
    bygg = {
        "kind": "recipient",
        "pattern": "Bygglov@Kommun.example",
        "case_type": str(org.bygglov.id),
        "to_department": "y",
        "active": "y",
    }
    assert post(client, "/admin/sorteringsregler/ny", noise | {"active": "y"}).status_code == 302
    assert post(client, "/admin/sorteringsregler/ny", bygg).status_code == 302
    first, second = mail_settings.list_rules()
    assert (first.pattern, second.pattern) == ("Buller", "bygglov@kommun.example")
    assert not first.to_department and second.to_department
    html = client.get("/admin/sorteringsregler/").get_data(as_text=True)
    assert html.index("Buller") < html.index("bygglov@kommun.example")
    assert "Stannar i kontaktcentrets kö" in html and "Skickas till Stadsbyggnadskontoret" in html

    mail = {"to": "bygglov@kommun.example", "subject": "Buller från bygget"}
    case = _case_of(**mail)
    assert case.case_type == org.miljotillsyn and case.department is None  # classified only

    response = post(client, f"/admin/sorteringsregler/{second.id}/flytta", {"direction": "up"})
    assert response.status_code == 302
    assert [r.id for r in mail_settings.list_rules()] == [second.id, first.id]
    case = _case_of(**mail)
    assert case.case_type == org.bygglov and case.department == org.bygg  # sent to the department

    assert post(client, f"/admin/sorteringsregler/{second.id}/ta-bort").status_code == 302
    assert _case_of(**mail).case_type == org.miljotillsyn
    assert _count(RoutingRule) == 1


def test_moving_past_the_ends_changes_nothing(client, org, login):
    login(org.admin)
    rule = RoutingRule(kind=RuleKind.SUBJECT, pattern="buller", case_type=org.miljotillsyn)
    db.session.add(rule)
    db.session.commit()
    response = post(client, f"/admin/sorteringsregler/{rule.id}/flytta", {"direction": "up"})
    assert response.status_code == 302
    assert (
        post(
            client, f"/admin/sorteringsregler/{rule.id}/flytta", {"direction": "sideways"}
        ).status_code
        == 400
    )
    assert mail_settings.list_rules() == [rule]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "recipient", "pattern": "bygglov"}, "Ange en e-postadress"),
        ({"kind": "sender_domain", "pattern": "inte en domän"}, "Ange en domän utan @"),
        (
            {"kind": "subject", "pattern": "BYGGLOV"},
            "Det finns redan en regel för ord i ämnesraden",
        ),
        ({"kind": "subject", "pattern": ""}, "Fyll i mönster."),
        ({"kind": "subject", "pattern": "x", "case_type": ""}, "Välj ärendetyp."),
    ],
)
def test_invalid_rules_are_refused(client, org, rows, login, data, message):
    login(org.admin)
    form = {"case_type": str(org.miljotillsyn.id), "active": "y"} | data
    response = post(client, "/admin/sorteringsregler/ny", form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count(RoutingRule) == 1


def test_sender_domain_rule_drops_the_at_sign(client, org, login):
    login(org.admin)
    form = {"kind": "sender_domain", "pattern": "@Lansstyrelsen.example"}
    form |= {"case_type": str(org.strandskydd.id), "active": "y"}
    assert post(client, "/admin/sorteringsregler/ny", form).status_code == 302
    assert mail_settings.list_rules()[0].pattern == "lansstyrelsen.example"


# --- templates -----------------------------------------------------------------------------------


def test_acknowledgement_starts_from_the_default_and_is_sent_once_saved(client, org, login, outbox):
    login(org.admin)
    html = client.get("/admin/mallar/kvittens").get_data(as_text=True)
    assert "Kvittensen är inte anpassad ännu" in html
    assert "Tack för ditt meddelande. Vi har tagit emot det" in html
    assert "{servicelöfte}" in html and "<code>{referens}</code>" in html
    form = {
        "name": "Kvittens",
        "subject": "Tack, vi har fått ditt meddelande",
        "body": "Hej!\r\nDitt ärende har nummer {referens}. {servicelöfte}",
        "active": "y",
    }
    # A receipt quotes nothing the sender wrote: their subject and name are refused.
    for quoting in ({"subject": "Tack: {ämne}"}, {"body": "Hej {namn}! {referens}"}):
        response = post(client, "/admin/mallar/kvittens", form | quoting)
        assert response.status_code == 422
        assert "Kvittensen kan inte citera" in response.get_data(as_text=True)
    assert post(client, "/admin/mallar/kvittens", form).status_code == 302
    template = mail_settings.acknowledgement_template()
    assert template.key == "acknowledgement" and "\r" not in template.body
    assert post(client, "/admin/mallar/kvittens", form | {"name": "Kvitto"}).status_code == 302
    assert _count(MailTemplate) == 1 and template.name == "Kvitto"
    case = _case_of(sender="Anna Svensson <anna@example.se>", subject="Fråga om bygglov")
    sent = db.session.scalars(
        sa.select(MailMessage).where(
            MailMessage.case_id == case.id, MailMessage.kind == "acknowledgement"
        )
    ).one()
    assert sent.subject == f"[{case.reference}] Tack, vi har fått ditt meddelande"
    assert f"Hej!\nDitt ärende har nummer {case.reference}." in sent.text_body
    assert "bygglov" not in sent.text_body and "Anna" not in sent.text_body
    html = client.get("/admin/mallar/").get_data(as_text=True)
    assert "Kvitto</a> – Aktiv" in html
    # Without SMTP the acknowledgement went to the outbox, where the admin can read it.
    html = client.get("/admin/utkorg/").get_data(as_text=True)
    assert f"[{case.reference}] Tack, vi har fått ditt meddelande" in html


def test_unknown_placeholders_and_empty_texts_are_refused(client, org, login):
    login(org.admin)
    form = {"name": "Kvittens", "subject": "Tack", "body": "Hej {namnet}!", "active": "y"}
    response = post(client, "/admin/mallar/kvittens", form)
    assert response.status_code == 422
    assert "Okänd platshållare {namnet}." in response.get_data(as_text=True)
    response = post(client, "/admin/mallar/kvittens", form | {"subject": "", "body": "Hej"})
    assert response.status_code == 422 and "Fyll i ämnesraden." in response.get_data(as_text=True)
    assert _count(MailTemplate) == 0


def test_answer_templates_are_created_and_edited(client, org, rows, login):
    login(org.admin)
    form = {
        "name": "Hänvisning till Skatteverket",
        "body": "Hej {namn}! Vänd dig till Skatteverket.",
    }
    assert post(client, "/admin/mallar/ny", form | {"active": "y"}).status_code == 302
    template = db.session.scalars(
        sa.select(MailTemplate).where(MailTemplate.key == "answer-hanvisning-till-skatteverket")
    ).one()
    assert template.subject == "" and template.active
    response = post(client, "/admin/mallar/ny", form | {"slug": "tack"})
    assert response.status_code == 422
    assert "Det finns redan en mall med det kortnamnet." in response.get_data(as_text=True)
    changed = {"name": "Skatteverket", "body": "Ring Skatteverket på 0771-567 567."}
    assert post(client, f"/admin/mallar/{template.id}", changed).status_code == 302
    db.session.refresh(template)
    assert template.name == "Skatteverket" and not template.active
    assert template.key == "answer-hanvisning-till-skatteverket"  # the key never changes
    html = client.get("/admin/mallar/").get_data(as_text=True)
    assert "Skatteverket</a>" in html and "Tack</a>" in html


# --- messages that could not be filed ------------------------------------------------------------


def test_unreadable_message_is_listed_and_can_be_processed_again(
    client, org, login, outbox, monkeypatch
):
    message = _unreadable(monkeypatch, subject="Fråga om förskola", message_id="<fixad@example.se>")
    raw_digest = message.raw_sha256
    rejected = ingest(make_mail(subject="Frånvaro", headers={"Auto-Submitted": "auto-replied"}))
    login(org.admin)
    html = client.get("/admin/ej-kopplade/").get_data(as_text=True)
    assert "Fråga om förskola" in html and "Kunde inte läsas" in html
    assert "Frånvaro" in html and "Inte kopplat till ärende" in html
    assert html.count(">Behandla igen<") == 1  # only the unreadable one
    # Rejected messages are not processed again.
    response = post(
        client, f"/admin/ej-kopplade/{rejected.message_pk}/behandla-igen", follow_redirects=True
    )
    assert "Bara meddelanden som inte kunde läsas" in response.get_data(as_text=True)

    response = post(client, f"/admin/ej-kopplade/{message.id}/behandla-igen")
    assert response.status_code == 302
    case = db.session.scalars(sa.select(Case)).one()
    assert f"Meddelandet kunde läsas och är nu ärende {case.reference}." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    filed = db.session.scalars(sa.select(MailMessage).where(MailMessage.case_id == case.id)).first()
    assert filed.raw_sha256 == raw_digest and filed.message_id == "<fixad@example.se>"
    assert db.session.get(MailMessage, message.id) is None  # replaced by the filed record
    assert client.get(f"/admin/ej-kopplade/{message.id}/original").status_code == 404


def test_the_original_bytes_can_be_downloaded_and_the_download_is_logged(
    client, org, login, outbox, monkeypatch
):
    raw_message = _unreadable(monkeypatch, subject="Original")
    login(org.admin)
    response = client.get(f"/admin/ej-kopplade/{raw_message.id}/original")
    assert response.status_code == 200 and response.mimetype == "message/rfc822"
    assert "attachment" in response.headers["Content-Disposition"]
    assert b"Subject: Original" in response.data
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    event = db.session.scalars(sa.select(AuditEvent)).one()
    assert event.action == "download_original" and event.detail == {"message": raw_message.id}


def test_unfiled_messages_are_paginated_newest_first(client, org, login, outbox, monkeypatch):
    monkeypatch.setattr(mail_settings, "PAGE_SIZE", 2)
    for n in range(3):
        ingest(make_mail(subject=f"Frånvaro {n}", headers={"Auto-Submitted": "auto-replied"}))
    login(org.admin)
    first = client.get("/admin/ej-kopplade/").get_data(as_text=True)
    assert "sida 1 av 2" in first and "Frånvaro 2" in first and "Frånvaro 0" not in first
    assert 'href="/admin/ej-kopplade/?sida=2"' in first
    second = client.get("/admin/ej-kopplade/?sida=2").get_data(as_text=True)
    assert "Frånvaro 0" in second and "Frånvaro 2" not in second
    assert client.get("/admin/ej-kopplade/?sida=x").status_code == 200


# --- the outbox ----------------------------------------------------------------------------------


def test_outbox_lists_newest_first_and_shows_a_message(client, org, login, outbox):
    (outbox / "old.eml").write_bytes(make_mail(to="sven@example.se", subject="Äldre svar"))
    (outbox / "new.eml").write_bytes(
        make_mail(to="anna@example.se", subject="Nyare svar", body="Hej Anna!\nSvaret kommer.")
    )
    (outbox / "notes.txt").write_text("not an e-mail")
    os.utime(outbox / "old.eml", (1_700_000_000, 1_700_000_000))
    login(org.admin)
    html = client.get("/admin/utkorg/").get_data(as_text=True)
    assert "2 meddelanden i utkorgen" in html and "notes.txt" not in html
    assert html.index("Nyare svar") < html.index("Äldre svar")
    assert "anna@example.se" in html
    html = client.get("/admin/utkorg/new.eml").get_data(as_text=True)
    assert "Nyare svar" in html and "Hej Anna!\nSvaret kommer." in html
    # The Date header in Swedish and local time, not as the header reads (09:00 UTC).
    assert "mån 16 nov. 2026 10:00" in html and "+0000" not in html.split("<details>")[0]
    event = db.session.scalars(sa.select(AuditEvent)).one()
    assert event.action == "view_outbox" and event.detail == {"file": "new.eml"}


def test_outbox_refuses_anything_but_its_own_files(client, org, login, outbox, tmp_path):
    secret = tmp_path / "secret.eml"
    secret.write_bytes(make_mail(subject="Hemlig"))
    (outbox / "link.eml").symlink_to(secret)
    (outbox / "notes.txt").write_text("inte e-post")
    login(org.admin)
    for name in (
        "..%2Fsecret.eml",
        "%2E%2E%2Fsecret.eml",
        "..",
        "secret.eml",
        "link.eml",
        "notes.txt",
        "%2Fetc%2Fpasswd",
        "..%5Csecret.eml",
    ):
        response = client.get(f"/admin/utkorg/{name}")
        assert response.status_code == 404, name
        assert "Hemlig" not in response.get_data(as_text=True)
    assert "Hemlig" not in client.get("/admin/utkorg/").get_data(as_text=True)


def test_with_smtp_the_outbox_is_not_used(client, org, login, outbox, app):
    (outbox / "one.eml").write_bytes(make_mail(subject="Utgående"))
    app.config["SMTP_URL"] = "smtp://mail.kommun.example:587"
    try:
        login(org.admin)
        html = client.get("/admin/utkorg/").get_data(as_text=True)
        assert "Utkorgen används inte" in html and "Utgående" not in html
        assert client.get("/admin/utkorg/one.eml").status_code == 404
        assert 'href="/admin/utkorg/">Utkorg' not in client.get("/admin/").get_data(as_text=True)
    finally:
        app.config["SMTP_URL"] = None

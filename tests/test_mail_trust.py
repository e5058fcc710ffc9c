"""Mail trust (issue #13, items 1 and 2): a forged From joins no case and reopens none; a
Reply-To never picks the contact or receives a receipt, and an answer goes there only when the
agent chooses it. The checks read Authentication-Results from the servers a mailbox trusts."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.intake import ingest, ingest_batch
from kontaktcenter.channels.email.mime.authentication import (
    Verdict,
    aligned,
    check_sender,
    server_ids,
)
from kontaktcenter.channels.email.models import (
    Mailbox,
    MailKind,
    MailMessage,
    MailTemplate,
    SenderTrust,
)
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from tests.factories import post
from tests.mailutil import make_mail

SERVER = "mx.kommun.example"
CITIZEN = "anna@example.se"


def _pass(domain: str = "example.se", server: str = SERVER) -> dict[str, str]:
    return {"Authentication-Results": f"{server}; dmarc=pass header.from={domain}"}


def _case(reference: str | None) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


def _message(result) -> MailMessage:
    return db.session.get(MailMessage, result.message_pk)


def _acks() -> list[MailMessage]:
    return list(
        db.session.scalars(
            sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
        )
    )


@pytest.fixture
def mailbox(db_session) -> Mailbox:
    """The function mailbox, whose receiving server checks senders and says so."""
    box = Mailbox(
        address="kontakt@kommun.example",
        name="Kontaktcenter",
        imap_host="imap.kommun.example",
        imap_user="kontakt",
        password_env="IMAP_KONTAKT",
        trusted_servers=[SERVER],
        sender_trust=SenderTrust.VERIFIED,
    )
    db.session.add(box)
    db.session.commit()
    return box


def _file(mailbox: Mailbox, **kwargs):
    return ingest(make_mail(**kwargs), mailbox_id=mailbox.id)


def _closed_case(mailbox: Mailbox, org, days_ago: float = 1) -> Case:
    """A social-services case of the citizen, answered and closed `days_ago`."""
    first = _file(mailbox, subject="Ansökan om bistånd", headers=_pass())
    case = _case(first.reference)
    case_actions.close(case, org.agent, "Besvarat")
    case.closed_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return case


# --- reading Authentication-Results ------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "sender", "verdict"),
    [
        ([f"{SERVER}; dmarc=pass header.from=example.se"], CITIZEN, Verdict.PASS),
        ([f"{SERVER.upper()}; dmarc=pass header.from=Example.SE"], CITIZEN, Verdict.PASS),
        # A pass counts only from a trusted server: anyone can write a header naming any server.
        (["mx.evil.example; dmarc=pass header.from=example.se"], CITIZEN, Verdict.NONE),
        ([f"{SERVER}; dmarc=pass header.from=evil.example"], CITIZEN, Verdict.NONE),
        # SPF and DKIM pass only when aligned with the From domain (same or a subdomain).
        ([f"{SERVER}; spf=pass smtp.mailfrom=bounce.example.se"], CITIZEN, Verdict.PASS),
        ([f"{SERVER}; spf=pass smtp.mailfrom=evil.example"], CITIZEN, Verdict.NONE),
        ([f"{SERVER}; dkim=pass header.d=example.se"], "a@post.example.se", Verdict.PASS),
        ([f"{SERVER}; dkim=pass header.i=@example.se"], CITIZEN, Verdict.PASS),
        ([f"{SERVER}; dkim=pass header.d=se"], CITIZEN, Verdict.NONE),
        ([f"{SERVER}; dkim=pass header.d=notexample.se"], CITIZEN, Verdict.NONE),
        ([f"{SERVER}; spf=softfail smtp.mailfrom=example.se; dkim=none"], CITIZEN, Verdict.NONE),
        # A fail for the From domain is honoured from any server, and outweighs a pass.
        (
            [
                "mx.anywhere.example; dmarc=fail header.from=example.se",
                f"{SERVER}; dmarc=pass header.from=example.se",
            ],
            CITIZEN,
            Verdict.FAIL,
        ),
        ([f"{SERVER}; spf=fail smtp.mailfrom=example.se"], CITIZEN, Verdict.FAIL),
        (["mx.anywhere.example; spf=fail smtp.mailfrom=list.example"], CITIZEN, Verdict.NONE),
        (["mx.anywhere.example; dmarc=fail header.from=other.example"], CITIZEN, Verdict.NONE),
        # Unreadable headers and headers without results say nothing.
        ([f"{SERVER};", "garbage ;;; dmarc=pass", f"{SERVER}; none"], CITIZEN, Verdict.NONE),
        ([f"{SERVER}; dmarc=pass header.from=example.se"], None, Verdict.NONE),
    ],
)
def test_authentication_results_decide_whether_the_from_address_is_vouched_for(
    headers, sender, verdict
):
    assert check_sender(headers, sender, [SERVER]).verdict == verdict


def test_alignment_is_the_same_domain_or_a_subdomain_never_a_bare_top_level_domain():
    assert aligned("example.se", "example.se") and aligned("mail.example.se", "example.se")
    assert aligned("example.se", "kommun.example.se")
    assert not aligned("se", "example.se") and not aligned("example.se", "se")
    assert not aligned("evilexample.se", "example.se") and not aligned("", "example.se")


def test_trusted_server_names_are_read_and_checked():
    assert server_ids(" MX.kommun.example, mx2.kommun.example\nmx.kommun.example ") == [
        "mx.kommun.example",
        "mx2.kommun.example",
    ]
    with pytest.raises(ValueError, match="mx!"):
        server_ids("mx.kommun.example mx!")


# --- item 1: a forged From joins nothing and reopens nothing ------------------------------------


def test_a_forged_from_citing_a_closed_case_opens_a_new_linked_case(db_session, mailbox, org):
    case = _closed_case(mailbox, org)
    forged = _file(mailbox, subject=f"Re: [{case.reference}] Ny uppgift")  # no check passed
    assert forged.result == "created" and forged.reference != case.reference
    new = _case(forged.reference)
    assert new.linked_case_id == case.id
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    message = _message(forged)
    assert message.case_id == new.id and message.flags["sender_check"] == "none"
    assert "kunde inte bekräftas" in message.flags["not_joined"]


def test_a_forged_from_citing_an_open_case_does_not_join_it(db_session, mailbox, org):
    first = _file(mailbox, subject="Ansökan om bistånd", headers=_pass())
    forged = _file(mailbox, subject=f"Komplettering [{first.reference}]")
    assert forged.result == "created" and _case(forged.reference).linked_case is not None
    assert _case(forged.reference).linked_case.reference == first.reference
    inbound = [m.id for m in _case(first.reference).messages if m.direction.value == "inbound"]
    assert inbound == [first.message_pk]


def test_a_verified_sender_citing_their_case_joins_and_reopens_it(db_session, mailbox, org):
    case = _closed_case(mailbox, org)
    reply = _file(mailbox, subject=f"Re: [{case.reference}] Ny uppgift", headers=_pass())
    assert (reply.result, reply.reference) == ("joined", case.reference)
    assert case.status == CaseStatus.OPEN and case.closed_at is None
    assert _message(reply).flags["sender_check"] == "pass"


def test_a_pass_from_a_server_the_mailbox_does_not_trust_counts_for_nothing(
    db_session, mailbox, org
):
    case = _closed_case(mailbox, org)
    forged = _file(
        mailbox,
        subject=f"Re: [{case.reference}] Ny uppgift",
        headers=_pass(server="mx.evil.example"),
    )
    assert forged.result == "created" and _case(forged.reference).linked_case_id == case.id
    assert case.status == CaseStatus.CLOSED


def test_as_before_believes_the_sender_unless_a_server_says_it_failed(db_session, mailbox, org):
    case = _closed_case(mailbox, org)
    mailbox.sender_trust, mailbox.trusted_servers = SenderTrust.AS_BEFORE, []
    db.session.commit()
    fail = {"Authentication-Results": "mx.anywhere.example; dmarc=fail header.from=example.se"}
    forged = _file(mailbox, subject=f"Re: [{case.reference}] Ny uppgift", headers=fail)
    assert forged.result == "created" and case.status == CaseStatus.CLOSED
    message = _message(forged)
    assert message.flags["sender_check"] == "fail" and "underkände" in message.flags["not_joined"]
    assert all(a.case_id != message.case_id for a in _acks())  # no receipt to a forged From
    plain = _file(mailbox, subject=f"Re: [{case.reference}] Ny uppgift")  # as today
    assert (plain.result, plain.reference) == ("joined", case.reference)
    assert case.status == CaseStatus.OPEN


def test_mail_from_no_mailbox_follows_the_configuration(db_session, org, app, monkeypatch):
    first = ingest(make_mail(subject="Fråga"))
    case = _case(first.reference)
    cited = f"Re: [{case.reference}] Fråga"
    assert ingest(make_mail(subject=cited)).result == "created"  # verified, nobody trusted
    monkeypatch.setitem(app.config, "MAIL_TRUSTED_SERVERS", f"{SERVER}, mx2.kommun.example")
    assert ingest(make_mail(subject=cited, headers=_pass())).reference == case.reference
    monkeypatch.setitem(app.config, "MAIL_TRUSTED_SERVERS", "")
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "as_before")
    assert ingest(make_mail(subject=cited)).reference == case.reference
    # A setting that is not valid is read the safe way, and mail is still filed.
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "everyone")
    assert ingest(make_mail(subject=cited)).result == "created"


def test_a_reply_to_a_message_we_sent_that_address_joins_but_reopens_only_when_verified(
    db_session, mailbox, org, outbox
):
    first = _file(mailbox, subject="Fråga om bygglov", headers=_pass())
    case = _case(first.reference)
    sent = outbound.reply(case, org.agent, "Här är svaret.")
    # Unverified, but it answers our message to that very address: it joins the open case.
    joined = _file(mailbox, subject="Re: svar", in_reply_to=sent.message_id)
    assert (joined.result, joined.reference) == ("joined", case.reference)
    # Once the case is closed, the same evidence no longer reopens it.
    case_actions.close(case, org.agent, "Besvarat")
    later = _file(mailbox, subject="Re: svar igen", in_reply_to=sent.message_id)
    assert later.result == "created" and _case(later.reference).linked_case_id == case.id
    assert case.status == CaseStatus.CLOSED
    verified = _file(mailbox, subject="Re: svar", in_reply_to=sent.message_id, headers=_pass())
    assert verified.reference == case.reference and case.status == CaseStatus.OPEN


def test_citing_a_message_exchanged_with_someone_else_is_not_enough(
    db_session, mailbox, org, outbox
):
    first = _file(mailbox, subject="Fråga", message_id="<first@example.se>", headers=_pass())
    case = _case(first.reference)
    sent = outbound.reply(case, org.agent, "Svar.")
    # The citizen's follow-up to their own message joins (the Message-ID is theirs to know);
    # someone else citing our answer to the citizen, or the citizen's message, does not.
    own = _file(mailbox, subject="Glömde en sak", in_reply_to="<first@example.se>")
    assert (own.result, own.reference) == ("joined", case.reference)
    for in_reply_to in (sent.message_id, "<first@example.se>"):
        result = _file(mailbox, sender="mallory@evil.example", in_reply_to=in_reply_to)
        assert result.result == "created" and _case(result.reference).linked_case_id == case.id
    inbound = [m.id for m in case.messages if m.direction.value == "inbound"]
    assert inbound == [first.message_pk, own.message_pk]


def test_a_reply_to_a_message_earlier_in_the_same_batch_is_checked_the_same_way(
    db_session, mailbox
):
    results = ingest_batch(
        [
            make_mail(message_id="<b1@example.se>", subject="Fråga", headers=_pass()),
            make_mail(message_id="<b2@example.se>", in_reply_to="<b1@example.se>"),
            make_mail(sender="mallory@evil.example", in_reply_to="<b1@example.se>"),
        ],
        mailbox_id=mailbox.id,
    )
    assert [r.result for r in results] == ["created", "joined", "created"]
    assert results[1].reference == results[0].reference
    assert _case(results[2].reference).linked_case.reference == results[0].reference


@pytest.mark.parametrize(("days", "joins"), [(29, True), (31, False)])
def test_mail_never_reopens_a_case_closed_longer_ago_than_the_setting(
    db_session, mailbox, org, app, days, joins
):
    assert app.config["MAIL_REOPEN_DAYS"] == 30
    case = _closed_case(mailbox, org, days_ago=days)
    reply = _file(mailbox, subject=f"Re: [{case.reference}] Igen", headers=_pass())
    assert (reply.reference == case.reference) is joins
    assert (case.status == CaseStatus.OPEN) is joins
    if not joins:
        assert _case(reply.reference).linked_case_id == case.id
        assert "30 dagar" in _message(reply).flags["not_joined"]


def test_the_reopen_window_is_a_setting(db_session, mailbox, org, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_REOPEN_DAYS", 5)
    case = _closed_case(mailbox, org, days_ago=6)
    reply = _file(mailbox, subject=f"Re: [{case.reference}] Igen", headers=_pass())
    assert reply.result == "created" and case.status == CaseStatus.CLOSED


# --- item 2: Reply-To -----------------------------------------------------------------------


def test_a_reply_to_takes_over_no_contact_and_gets_no_receipt(db_session, mailbox, org, outbox):
    citizen = Contact(name="Anna Andersson", email=CITIZEN, phone="070-123 45 67")
    db.session.add(citizen)
    db.session.commit()
    attack = _file(
        mailbox,
        sender="Mallory <mallory@evil.example>",
        subject="Logga in på https://evil.example/bankid",
        headers={"Reply-To": f"Anna <{CITIZEN}>"},
    )
    case = _case(attack.reference)
    assert case.contact is not None and case.contact.email == "mallory@evil.example"
    assert case.contact_id != citizen.id
    assert _message(attack).reply_to == CITIZEN  # kept on the message, shown on the case
    (ack,) = _acks()
    assert ack.recipient == "mallory@evil.example"
    assert "evil.example" not in ack.subject + ack.text_body and "bankid" not in ack.subject


def test_receipts_quote_the_reference_and_our_text_never_the_sender(db_session, mailbox, outbox):
    db.session.add(
        MailTemplate(  # saved before this release: it still quotes the subject and the name
            key="acknowledgement",
            name="Kvittens",
            subject="Vi har fått: {ämne}",
            body="Hej {namn}!\n\nÄrende {referens}: {ämne}. {servicelöfte}",
        )
    )
    db.session.commit()
    result = _file(
        mailbox, sender="Klicka här <a@example.se>", subject="Logga in på https://evil.example"
    )
    (ack,) = _acks()
    assert ack.subject == f"[{result.reference}] Vi har fått"
    assert ack.text_body.startswith(f"Hej!\n\nÄrende {result.reference}. Vi svarar inom")
    assert "evil" not in ack.text_body and "Klicka" not in ack.text_body


def test_an_answer_goes_to_the_reply_to_only_when_the_agent_chooses_it(
    db_session, mailbox, org, outbox
):
    result = _file(mailbox, headers={"Reply-To": "anna.privat@example.net"})
    case = _case(result.reference)
    addresses = outbound.reply_addresses(case)
    assert (addresses.sender, addresses.reply_to) == (CITIZEN, "anna.privat@example.net")
    assert outbound.reply(case, org.agent, "Svar ett.").recipient == CITIZEN
    chosen = outbound.reply(case, org.agent, "Svar två.", reply_to="Anna.Privat@example.net")
    assert chosen.recipient == "anna.privat@example.net"
    # The address the agent saw must still be the one asked for.
    with pytest.raises(ValidationError, match="har ändrats") as error:
        outbound.reply(case, org.agent, "Svar tre.", reply_to="mallory@evil.example")
    assert error.value.field == "reply_to"


def test_a_web_form_from_a_no_reply_address_has_no_contact_and_is_answered_to_the_reply_to(
    client, db_session, mailbox, org, login, outbox
):
    result = _file(
        mailbox,
        sender="E-tjänst <noreply@kommun.example>",
        subject="Felanmälan via webben",
        headers={"Reply-To": "Per <per@example.se>"},
    )
    case = _case(result.reference)
    assert case.contact is None and _acks() == []
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Ber om svar till en annan adress (Reply-To): &lt;per@example.se&gt;" in html
    assert 'name="reply_to" id="reply-reply_to" value="per@example.se"' in html
    url = f"/arenden/{case.id}/reply"
    refused = post(client, url, {"version": case.version, "body": "Hej Per!"})
    assert refused.status_code == 422
    assert "Välj att svara till Reply-To-adressen per@example.se" in refused.get_data(True)
    sent = post(
        client, url, {"version": case.version, "body": "Hej Per!", "reply_to": "per@example.se"}
    )
    assert sent.status_code == 302
    reply = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.kind == MailKind.REPLY)
    ).one()
    assert reply.recipient == "per@example.se"


def test_the_case_page_offers_the_reply_to_beside_the_sender(
    client, db_session, mailbox, org, login
):
    result = _file(mailbox, headers={"Reply-To": "anna.privat@example.net"})
    case = _case(result.reference)
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert (
        "Svara till Reply-To-adressen &lt;anna.privat@example.net&gt; i stället för "
        f"avsändaren &lt;{CITIZEN}&gt;" in html
    )
    assert "checked" not in html.split('id="reply-reply_to"')[1].split(">")[0]


# --- the admin pages --------------------------------------------------------------------------


def _mailbox_form(**changes: str) -> dict[str, str]:
    return {
        "address": "kontakt@kommun.example",
        "name": "Kontaktcenter",
        "imap_host": "imap.kommun.example",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_user": "kontakt",
        "password_env": "IMAP_KONTAKT",
        "folder": "INBOX",
        "active": "y",
        "sender_trust": "verified",
        "trusted_servers": "MX.kommun.example, mx2.kommun.example",
    } | changes


def test_an_admin_names_the_trusted_servers_and_is_warned_about_as_before(
    client, db_session, org, login
):
    login(org.admin)
    bad = post(client, "/admin/brevlador/ny", _mailbox_form(trusted_servers="mx.kommun.example ?"))
    assert bad.status_code == 422 and "”?” är inget servernamn" in bad.get_data(as_text=True)
    assert post(client, "/admin/brevlador/ny", _mailbox_form()).status_code == 302
    box = db.session.scalars(sa.select(Mailbox)).one()
    assert box.trusted_servers == ["mx.kommun.example", "mx2.kommun.example"]
    assert box.sender_trust == SenderTrust.VERIFIED
    html = client.get(f"/admin/brevlador/{box.id}").get_data(as_text=True)
    assert "mx.kommun.example, mx2.kommun.example</textarea>" in html
    assert 'id="trust-warning"' not in html
    changed = _mailbox_form(sender_trust="as_before", trusted_servers="")
    assert post(client, f"/admin/brevlador/{box.id}", changed).status_code == 302
    html = client.get("/admin/brevlador/").get_data(as_text=True)
    assert "Ingen kontroll" in html and "Avsändaradresser godtas utan kontroll" in html
    html = client.get(f"/admin/brevlador/{box.id}").get_data(as_text=True)
    assert 'id="trust-warning"' in html


def test_the_mailbox_list_says_what_applies_to_import_and_the_api(
    client, db_session, org, login, app, monkeypatch
):
    login(org.admin)
    html = client.get("/admin/brevlador/").get_data(as_text=True)
    assert "ingen betrodd server" in html and 'id="import-trust-warning"' in html
    monkeypatch.setitem(app.config, "MAIL_TRUSTED_SERVERS", SERVER)
    html = client.get("/admin/brevlador/").get_data(as_text=True)
    assert f"betrodda servrar {SERVER}" in html and 'id="import-trust-warning"' not in html

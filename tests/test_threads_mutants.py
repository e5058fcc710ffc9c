"""Which case a message joins (channels/email/threads.py), where mutation testing
(scripts/mutation) found the tests silent: who counts as a party of a case cited by reference
(only the contact and the addresses on that very case), an out-of-office to a closed case, the
default reopen window and its exact edge, and the forged sender's evidence on the new case."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import merging
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import filing, outbound
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import Mailbox, MailMessage, SenderTrust
from kontaktcenter.core.extensions import db, utcnow
from tests.factories import make_case
from tests.mailutil import make_mail

SERVER = "mx.kommun.example"
CITIZEN = "anna@example.se"


def _pass(domain: str = "example.se") -> dict[str, str]:
    return {"Authentication-Results": f"{SERVER}; dmarc=pass header.from={domain}"}


@pytest.fixture
def mailbox(db_session) -> Mailbox:
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


def _case(reference: str | None) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


def _message(result) -> MailMessage:
    return db.session.get(MailMessage, result.message_pk)


def _cite(mailbox: Mailbox, case: Case, sender: str, domain: str):
    """A verified message from `sender` citing `case` by its reference only."""
    return _file(
        mailbox, sender=sender, subject=f"Re: [{case.reference}] Mer", headers=_pass(domain)
    )


# --- who is a party of a case cited by reference ----------------------------------------------


def test_the_contact_of_a_case_made_by_phone_is_a_party_without_any_mail(db_session, mailbox, org):
    case = make_case(org.agent, org.bygglov, contact=ContactData(name="Anna", email=CITIZEN))
    db.session.commit()
    assert case.contact.email == CITIZEN and case.messages == []
    joined = _cite(mailbox, case, CITIZEN, "example.se")
    assert (joined.result, joined.reference) == ("joined", case.reference)


def test_a_case_without_a_contact_has_only_its_mail_parties(db_session, mailbox, org):
    case = make_case(org.agent, org.bygglov, contact=ContactData())
    db.session.commit()
    assert case.contact is None
    stranger = _cite(mailbox, case, CITIZEN, "example.se")
    assert stranger.result == "created" and _case(stranger.reference).linked_case_id == case.id


def test_someone_we_wrote_to_on_the_case_is_a_party(db_session, mailbox, org, outbox):
    first = _file(mailbox, headers={**_pass(), "Reply-To": "anna.privat@example.net"})
    case = _case(first.reference)
    outbound.reply(case, org.agent, "Svar.", reply_to="anna.privat@example.net")
    joined = _cite(mailbox, case, "anna.privat@example.net", "example.net")
    assert (joined.result, joined.reference) == ("joined", case.reference)


def test_someone_who_wrote_on_the_case_is_a_party(db_session, mailbox, org, outbox):
    first = _file(mailbox, headers=_pass())
    case = _case(first.reference)
    sent = outbound.reply(case, org.agent, "Svar.")
    # A colleague answers our reply, verified, so it joins through the Message-ID ...
    colleague = _file(
        mailbox, sender="per@example.org", in_reply_to=sent.message_id, headers=_pass("example.org")
    )
    assert colleague.reference == case.reference and case.contact.email == CITIZEN
    # ... and may then write citing the reference alone.
    joined = _cite(mailbox, case, "per@example.org", "example.org")
    assert (joined.result, joined.reference) == ("joined", case.reference)


def test_a_party_of_another_case_is_no_party_of_this_one(db_session, mailbox, org, outbox):
    theirs = _file(mailbox, sender="per@example.org", headers=_pass("example.org"))
    other = _case(theirs.reference)
    outbound.reply(other, org.agent, "Svar.", reply_to=None)
    mine = _case(_file(mailbox, headers=_pass()).reference)
    # Per wrote on, and was written to on, another case: citing Anna's case does not join it.
    cited = _cite(mailbox, mine, "per@example.org", "example.org")
    assert cited.result == "created" and _case(cited.reference).linked_case_id == mine.id
    assert [m.from_addr for m in mine.messages if m.direction.value == "inbound"] == [CITIZEN]


# --- reopening ------------------------------------------------------------------------------


def test_an_out_of_office_to_a_closed_case_joins_it_without_reopening(
    db_session, mailbox, org, outbox
):
    first = _file(mailbox, headers=_pass())
    case = _case(first.reference)
    sent = outbound.reply(case, org.agent, "Svar.")
    case_actions.close(case, org.agent, "Besvarat")
    away = _file(  # unverified, but it answers our message to that very address
        mailbox,
        subject="Frånvaro: Svar",
        in_reply_to=sent.message_id,
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert (away.result, away.reference) == ("joined", case.reference)
    assert case.status == CaseStatus.CLOSED


def test_without_a_setting_mail_reopens_cases_closed_up_to_thirty_days_ago(
    db_session, mailbox, org, app, monkeypatch
):
    monkeypatch.delitem(app.config, "MAIL_REOPEN_DAYS")
    now = utcnow()
    monkeypatch.setattr(filing, "utcnow", lambda: now)
    cases = []
    # Exactly at the edge: still reopened; a second more: not.
    for ago in (timedelta(days=30), timedelta(days=30, seconds=1)):
        case = _case(_file(mailbox, headers=_pass()).reference)
        case_actions.close(case, org.agent, "Besvarat")
        case.closed_at = now - ago
        db.session.commit()
        cases.append(case)
    edge = _cite(mailbox, cases[0], CITIZEN, "example.se")
    assert (edge.result, edge.reference) == ("joined", cases[0].reference)
    assert cases[0].status == CaseStatus.OPEN
    late = _cite(mailbox, cases[1], CITIZEN, "example.se")
    assert late.result == "created" and cases[1].status == CaseStatus.CLOSED
    assert "mer än 30 dagar sedan" in _message(late).flags["not_joined"]


def test_a_closed_case_without_a_closing_time_is_not_reopened_by_mail(db_session, mailbox, org):
    case = _case(_file(mailbox, headers=_pass()).reference)
    case_actions.close(case, org.agent, "Besvarat")
    case.closed_at = None  # closed before closing times were kept
    db.session.commit()
    cited = _cite(mailbox, case, CITIZEN, "example.se")
    assert cited.result == "created" and _case(cited.reference).linked_case_id == case.id
    assert case.status == CaseStatus.CLOSED


# --- what the new case says ----------------------------------------------------------------


def test_a_forged_reply_to_our_message_names_the_failed_check(db_session, mailbox, org, outbox):
    case = _case(_file(mailbox, headers=_pass()).reference)
    sent = outbound.reply(case, org.agent, "Svar.")
    forged = _file(  # cites our answer to Anna, which was never sent to Mallory
        mailbox,
        sender="mallory@evil.example",
        in_reply_to=sent.message_id,
        headers={"Authentication-Results": "mx.any.example; dmarc=fail header.from=evil.example"},
    )
    assert forged.result == "created" and _case(forged.reference).linked_case_id == case.id
    assert _message(forged).flags["not_joined"] == (
        "Meddelandet hänvisar till ett ärende, men en mottagande server underkände "
        "avsändaradressen (dmarc=fail header.from=evil.example (mx.any.example)), så det blev "
        "ett nytt ärende, länkat till det."
    )


# --- references ---------------------------------------------------------------------------


def test_a_reference_to_no_case_does_not_hide_the_next_one(db_session, mailbox):
    case = _case(_file(mailbox, headers=_pass()).reference)
    both = _file(mailbox, subject=f"Om [KC-2099-000001] och [{case.reference}]", headers=_pass())
    assert (both.result, both.reference) == ("joined", case.reference)


def test_the_contact_of_a_case_merged_away_may_cite_its_reference(db_session, mailbox, org):
    older = _case(_file(mailbox, headers=_pass()).reference)
    newer = make_case(  # registered by hand for Per, in the same queue
        org.agent,
        channel=Channel.EMAIL,
        contact=ContactData(name="Per", email="per@example.org"),
    )
    db.session.commit()
    newer_reference = newer.reference
    merging.merge(newer, org.agent, older.reference)
    joined = _file(
        mailbox,
        sender="per@example.org",
        subject=f"Re: [{newer_reference}] Mer",
        headers=_pass("example.org"),
    )
    assert (joined.result, joined.reference) == ("joined", older.reference)


def test_an_archive_keeps_its_threads_without_checks_or_reopening(db_session, mailbox, org):
    case = _case(_file(mailbox, headers=_pass()).reference)
    case_actions.close(case, org.agent, "Besvarat")
    case.closed_at = utcnow() - timedelta(days=400)
    db.session.commit()
    old = ingest(
        make_mail(subject=f"Re: [{case.reference}] Gammalt svar"),
        mailbox_id=mailbox.id,
        keep_received_time=True,
    )
    assert (old.result, old.reference) == ("joined", case.reference)
    assert case.status == CaseStatus.CLOSED


def test_a_reply_to_our_message_on_a_case_closed_long_ago_is_linked_and_says_why(
    db_session, mailbox, org, outbox
):
    case = _case(_file(mailbox, headers=_pass()).reference)
    sent = outbound.reply(case, org.agent, "Svar.")
    case_actions.close(case, org.agent, "Besvarat")
    case.closed_at = utcnow() - timedelta(days=31)
    db.session.commit()
    late = _file(mailbox, subject="Re: Svar", in_reply_to=sent.message_id, headers=_pass())
    assert late.result == "created" and _case(late.reference).linked_case_id == case.id
    assert _message(late).flags["not_joined"] == (
        "Meddelandet hänvisar till ett ärende som avslutades för mer än 30 dagar sedan, så det "
        "blev ett nytt ärende, länkat till det."
    )


def test_an_unverified_reply_to_our_message_on_a_closed_case_says_why_it_did_not_reopen(
    db_session, mailbox, org, outbox
):
    case = _case(_file(mailbox, headers=_pass()).reference)
    sent = outbound.reply(case, org.agent, "Svar.")
    case_actions.close(case, org.agent, "Besvarat")
    later = _file(mailbox, subject="Re: Svar", in_reply_to=sent.message_id)
    assert later.result == "created" and _case(later.reference).linked_case_id == case.id
    assert _message(later).flags["not_joined"] == (
        "Meddelandet hänvisar till ett ärende, men avsändaradressen kunde inte bekräftas, så det "
        "blev ett nytt ärende, länkat till det. Är det samma person kan ärendena slås ihop."
    )


def test_an_unverified_party_citing_two_references_is_linked_to_the_case_it_is_party_of(
    db_session, mailbox
):
    case = _case(_file(mailbox, headers=_pass()).reference)
    cited = _file(mailbox, subject=f"Om [KC-2099-000001] och [{case.reference}]")
    assert cited.result == "created" and _case(cited.reference).linked_case_id == case.id
    assert "kunde inte bekräftas" in _message(cited).flags["not_joined"]

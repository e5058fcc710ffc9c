"""Sender trust settings (channels/email/trust.py), where mutation testing (scripts/mutation)
found the tests silent: what an invalid MAIL_TRUSTED_SERVERS or MAIL_SENDER_TRUST is read as
and what the log says about it, and the warnings an admin is shown."""

from __future__ import annotations

import logging

import pytest

from kontaktcenter.channels.email.models import SenderTrust
from kontaktcenter.channels.email.trust import (
    MailTrust,
    TrustWarning,
    configured_trust,
    import_trust,
    mail_trust,
    trust_warning,
)

SERVER = "mx.kommun.example"

AS_BEFORE_WARNING = (
    "Avsändaradresser godtas utan kontroll: vem som helst kan skriva en medborgares "
    "adress som avsändare och ärendenumret i ämnesraden och hamna i (och återöppna) "
    "dennes ärende. Välj det bara om servern inte lägger till Authentication-Results."
)
NO_SERVER_NOTICE = (
    "Ingen betrodd server är angiven, så ingen avsändare kan bekräftas: svar som bara "
    "har ärendenumret i ämnesraden blir nya, länkade ärenden. Svar på våra egna "
    "meddelanden hamnar ändå i rätt ärende."
)


@pytest.fixture
def config(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "MAIL_TRUSTED_SERVERS", "")
        monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "verified")
        yield app.config


def _errors(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "kontaktcenter.channels.email.trust" and r.levelno == logging.ERROR
    ]


def test_invalid_trusted_servers_are_logged_and_trust_nobody(config, caplog):
    config["MAIL_TRUSTED_SERVERS"] = f"{SERVER} mx!"
    config["MAIL_SENDER_TRUST"] = "as_before"
    with caplog.at_level(logging.ERROR):
        trust = configured_trust()
    assert trust == MailTrust(frozenset(), SenderTrust.AS_BEFORE)
    assert _errors(caplog) == [
        "MAIL_TRUSTED_SERVERS: 'mx!' is not a server name; ignoring the setting"
    ]


def test_an_invalid_sender_trust_is_logged_and_read_as_verified(config, caplog):
    config["MAIL_TRUSTED_SERVERS"] = f"{SERVER.upper()}, {SERVER}"
    config["MAIL_SENDER_TRUST"] = "everyone"
    with caplog.at_level(logging.ERROR):
        trust = configured_trust()
    assert trust == MailTrust(frozenset({SERVER}), SenderTrust.VERIFIED)
    assert _errors(caplog) == [
        "MAIL_SENDER_TRUST must be 'verified' or 'as_before'; using 'verified'"
    ]


def test_valid_settings_log_nothing(config, caplog):
    config["MAIL_TRUSTED_SERVERS"] = SERVER
    config["MAIL_SENDER_TRUST"] = "as_before"
    with caplog.at_level(logging.ERROR):
        assert configured_trust() == MailTrust(frozenset({SERVER}), SenderTrust.AS_BEFORE)
    assert _errors(caplog) == []


def test_mail_from_no_mailbox_or_a_deleted_one_follows_the_configuration(config, db_session):
    config["MAIL_TRUSTED_SERVERS"] = SERVER
    expected = MailTrust(frozenset({SERVER}), SenderTrust.VERIFIED)
    assert mail_trust(None) == expected
    assert mail_trust(987654) == expected


def test_the_warnings_an_admin_is_shown(config):
    as_before = MailTrust(frozenset({SERVER}), SenderTrust.AS_BEFORE)
    assert trust_warning(as_before) == TrustWarning("warning", AS_BEFORE_WARNING)
    nobody = MailTrust(frozenset(), SenderTrust.VERIFIED)
    assert trust_warning(nobody) == TrustWarning("notice", NO_SERVER_NOTICE)
    assert trust_warning(MailTrust(frozenset({SERVER}), SenderTrust.VERIFIED)) is None
    assert import_trust() == (nobody, TrustWarning("notice", NO_SERVER_NOTICE))
    config["MAIL_SENDER_TRUST"] = "as_before"
    assert import_trust()[1] == TrustWarning("warning", AS_BEFORE_WARNING)

"""Which incoming From addresses to believe, per mailbox (or, for mail from no mailbox, per
configuration): the servers whose Authentication-Results count, and what to do without one.

A believed From may join a case through a cited ``[KC-…]`` reference (as the case's party) and
reopen a closed case. An unbelieved one still reaches the case it answers when it cites a
Message-ID exchanged with that very address (threads.py), but cannot reopen it; anything else
opens a new case linked to the cited one, as a stranger's mail does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from kontaktcenter.channels.email.mime.authentication import (
    HEADER,
    SenderCheck,
    Verdict,
    read_results,
    server_ids,
    weigh,
)
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import Mailbox, SenderTrust
from kontaktcenter.core.extensions import db

log = logging.getLogger(__name__)

# Why a message did not join the case it cites (kept on the message, shown on the new case,
# which is linked to the cited one).
NOT_VERIFIED = (
    "Meddelandet hänvisar till ett ärende, men avsändaradressen kunde inte bekräftas, så det "
    "blev ett nytt ärende, länkat till det. Är det samma person kan ärendena slås ihop."
)
FORGED = (
    "Meddelandet hänvisar till ett ärende, men en mottagande server underkände "
    "avsändaradressen ({detail}), så det blev ett nytt ärende, länkat till det."
)
CLOSED_LONG_AGO = (
    "Meddelandet hänvisar till ett ärende som avslutades för mer än {days} dagar sedan, så det "
    "blev ett nytt ärende, länkat till det."
)


@dataclass(frozen=True)
class MailTrust:
    servers: frozenset[str]
    mode: SenderTrust

    def check(self, parsed: ParsedMessage) -> SenderCheck:
        findings = parsed.sender_findings  # read when it was parsed (mime/parsing.py)
        if findings is None:
            findings = read_results(parsed.header_all(HEADER), parsed.from_addr)
        return weigh(findings, self.servers)

    def believes(self, check: SenderCheck) -> bool:
        """Whether the From address counts as the sender's: a trusted server vouched for it,
        or (as before) the mailbox's server checks nothing and nothing said it was forged."""
        if check.verdict == Verdict.FAIL:
            return False
        return check.verdict == Verdict.PASS or self.mode == SenderTrust.AS_BEFORE


def mail_trust(mailbox_id: int | None) -> MailTrust:
    """The mailbox's settings; the configuration's for mail from no mailbox (or one deleted)."""
    mailbox = db.session.get(Mailbox, mailbox_id) if mailbox_id is not None else None
    if mailbox is not None:
        return MailTrust(frozenset(mailbox.trusted_servers or ()), mailbox.sender_trust)
    return configured_trust()


def configured_trust() -> MailTrust:
    """MAIL_TRUSTED_SERVERS and MAIL_SENDER_TRUST: for import-mail and the HTTP door. A value
    that is not valid is logged and read the safe way (no such server; "verified"): mail is
    still filed, and nobody is believed by mistake."""
    config = current_app.config
    value = config.get("MAIL_TRUSTED_SERVERS") or ""
    try:
        servers = server_ids(value)
    except ValueError as error:
        log.error("MAIL_TRUSTED_SERVERS: %r is not a server name; ignoring the setting", str(error))
        servers = []
    try:
        mode = SenderTrust(config.get("MAIL_SENDER_TRUST") or SenderTrust.VERIFIED)
    except ValueError:
        log.error("MAIL_SENDER_TRUST must be 'verified' or 'as_before'; using 'verified'")
        mode = SenderTrust.VERIFIED
    return MailTrust(frozenset(servers), mode)


@dataclass
class TrustWarning:
    level: str  # "warning": From addresses are believed unchecked; "notice": none is verified
    text: str


def trust_warning(trust: MailTrust) -> TrustWarning | None:
    """What an admin must know about a mailbox's (or the import's) sender checks."""
    if trust.mode == SenderTrust.AS_BEFORE:
        return TrustWarning(
            "warning",
            "Avsändaradresser godtas utan kontroll: vem som helst kan skriva en medborgares "
            "adress som avsändare och ärendenumret i ämnesraden och hamna i (och återöppna) "
            "dennes ärende. Välj det bara om servern inte lägger till Authentication-Results.",
        )
    if not trust.servers:
        return TrustWarning(
            "notice",
            "Ingen betrodd server är angiven, så ingen avsändare kan bekräftas: svar som bara "
            "har ärendenumret i ämnesraden blir nya, länkade ärenden. Svar på våra egna "
            "meddelanden hamnar ändå i rätt ärende.",
        )
    return None


def import_trust() -> tuple[MailTrust, TrustWarning | None]:
    """The settings for mail from no mailbox (import-mail, the API), from the configuration,
    with what an admin must know about them."""
    trust = configured_trust()
    return trust, trust_warning(trust)

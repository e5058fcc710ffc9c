"""E-mail: every message in or out, kept byte for byte (an incoming e-mail is an allmän handling),
its attachments, the mailboxes we poll, routing rules and message templates."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import CaseType


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MailStatus(StrEnum):
    RECEIVED = "received"  # inbound, filed on a case
    REJECTED = "rejected"  # inbound, kept but not filed (reason says why)
    UNREADABLE = "unreadable"  # inbound, could not be parsed: kept raw, can be processed again
    PENDING = "pending"  # inbound, stored first (a large message): filed by a job
    QUEUED = "queued"  # outbound, waiting for delivery
    SENT = "sent"
    FAILED = "failed"  # outbound, delivery gave up or bounced

    @property
    def label(self) -> str:
        return {
            "received": "Mottaget",
            "rejected": "Inte kopplat till ärende",
            "unreadable": "Kunde inte läsas",
            "pending": "Väntar på behandling",
            "queued": "Väntar på att skickas",
            "sent": "Skickat",
            "failed": "Kunde inte levereras",
        }[self.value]


class MailKind(StrEnum):
    MESSAGE = "message"  # from a citizen
    REPLY = "reply"  # our answer
    ACKNOWLEDGEMENT = "acknowledgement"  # our automatic receipt
    BOUNCE = "bounce"  # a delivery status notification about one of ours
    AUTO_REPLY = "auto_reply"  # someone's out-of-office etc.


class SenderTrust(StrEnum):
    """When a mailbox believes a message's From address (to join a case by its reference, or
    to reopen one): see mime/authentication.py."""

    VERIFIED = "verified"  # a trusted server's Authentication-Results must vouch for it
    AS_BEFORE = "as_before"  # the server adds no such header: believed unless a check failed

    @property
    def label(self) -> str:
        return {
            "verified": "Bara när en betrodd server har kontrollerat avsändaren (DMARC, SPF, DKIM)",
            "as_before": "Som tidigare: servern kontrollerar inte avsändare (varnas)",
        }[self.value]


class Blob(Model):
    """Content-addressed bytes (raw messages, attachments), stored once, outside the rows."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Mailbox(Model):
    """A mailbox fetched over IMAP (TLS). The password comes from an environment variable."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    imap_host: Mapped[str] = mapped_column(sa.String(200))
    imap_port: Mapped[int] = mapped_column(default=993)
    imap_security: Mapped[str] = mapped_column(sa.String(10), default="ssl")  # ssl|starttls|none
    imap_user: Mapped[str] = mapped_column(sa.String(200))
    password_env: Mapped[str] = mapped_column(sa.String(100))  # name of the env variable
    folder: Mapped[str] = mapped_column(sa.String(200), default="INBOX")
    processed_folder: Mapped[str | None] = mapped_column(sa.String(200))  # else flagged \\Seen
    active: Mapped[bool] = mapped_column(default=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Whose Authentication-Results to believe (authserv-ids, lower case), and what to do when
    # the server writes none (see SenderTrust).
    trusted_servers: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    sender_trust: Mapped[SenderTrust] = mapped_column(
        str_enum(SenderTrust), default=SenderTrust.VERIFIED
    )


_ACKNOWLEDGEMENT = sa.text("kind = 'acknowledgement'")


class MailMessage(Model):
    __tablename__ = "mail_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    kind: Mapped[MailKind] = mapped_column(str_enum(MailKind))
    status: Mapped[MailStatus] = mapped_column(str_enum(MailStatus))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    mailbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mailboxes.id"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The same message never files twice: the database enforces it on (message_id,
    # fingerprint) (duplicate delivery, a retried job, two workers at once), while a different
    # message reusing a Message-ID is kept (shown as such: lookups.reused_message_ids).
    message_id: Mapped[str | None] = mapped_column(sa.String(998))
    # Inbound: mime/fingerprint.py, the content without what each delivery adds. NULL on
    # outgoing mail and on messages filed before it existed (computed when needed).
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    in_reply_to: Mapped[str | None] = mapped_column(sa.Text)
    references: Mapped[str | None] = mapped_column(sa.Text)
    from_addr: Mapped[str | None] = mapped_column(sa.String(254))
    from_name: Mapped[str | None] = mapped_column(sa.String(200))
    to_addrs: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    cc_addrs: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Inbound: the Reply-To address. Never the contact, never a receipt's recipient: an answer
    # goes there only when the agent chooses it (anyone can write any Reply-To).
    reply_to: Mapped[str | None] = mapped_column(sa.String(254))
    recipient: Mapped[str | None] = mapped_column(sa.String(254))  # outbound: the citizen
    subject: Mapped[str] = mapped_column(sa.Text, default="")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # reached us
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Also the duplicate check for messages without a Message-ID (a re-fetch after a crash).
    raw_sha256: Mapped[str] = mapped_column(sa.ForeignKey("blobs.sha256"), index=True)
    size: Mapped[int]
    text_body: Mapped[str] = mapped_column(sa.Text, default="")
    html_body: Mapped[str | None] = mapped_column(sa.Text)  # sanitised before it was stored
    is_auto_reply: Mapped[bool] = mapped_column(default=False)
    is_bounce: Mapped[bool] = mapped_column(default=False)
    oversize: Mapped[bool] = mapped_column(default=False)
    flags: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # reasons, defects
    reason: Mapped[str | None] = mapped_column(sa.Text)  # why rejected / unreadable / failed
    attempts: Mapped[int] = mapped_column(default=0)

    raw: Mapped[Blob] = relationship(lazy="raise")
    attachments: Mapped[list[MailAttachment]] = relationship(
        back_populates="message", order_by="MailAttachment.id"
    )
    case = relationship("Case", back_populates="messages")

    __table_args__ = (
        sa.Index("uq_mail_messages_message_fingerprint", "message_id", "fingerprint", unique=True),
        sa.Index("ix_mail_messages_case", "case_id", "created_at"),
        sa.Index("ix_mail_messages_status", "status", "created_at"),
        # Acknowledgement rate limit: what did we send this address lately?
        sa.Index("ix_mail_messages_recipient", "recipient", "created_at"),
        # One receipt per case, decided by the database: two runners of the same outbox row
        # (a worker presumed dead that was not) cannot both compose one.
        sa.Index(
            "uq_mail_messages_one_acknowledgement",
            "case_id",
            unique=True,
            postgresql_where=_ACKNOWLEDGEMENT,
            sqlite_where=_ACKNOWLEDGEMENT,
        ),
    )


class ReceiptGrant(Model):
    """One acknowledgement granted to an address, written in the transaction that queues it:
    the rate limits count these rows, under ReceiptLock, so concurrent imports and workers
    cannot exceed them. Rows older than the window are deleted as new ones are granted."""

    __tablename__ = "mail_receipt_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(254))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.Index("ix_mail_receipt_grants_address", "address", "granted_at"),
        sa.Index("ix_mail_receipt_grants_granted_at", "granted_at"),
    )


class ReceiptLock(Model):
    """The row a transaction updates before it counts and grants receipts: the row lock (the
    write lock in SQLite) makes granting transactions take turns until they commit."""

    __tablename__ = "mail_receipt_lock"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MailAttachment(Model):
    __tablename__ = "mail_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("mail_messages.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int]
    blob_sha256: Mapped[str] = mapped_column(sa.ForeignKey("blobs.sha256"))
    inline: Mapped[bool] = mapped_column(default=False)
    content_id: Mapped[str | None] = mapped_column(sa.String(255))

    message: Mapped[MailMessage] = relationship(back_populates="attachments")


class RuleKind(StrEnum):
    RECIPIENT = "recipient"  # bygglov@kommun.se
    SENDER_DOMAIN = "sender_domain"  # lansstyrelsen.se
    SUBJECT = "subject"  # a word in the subject

    @property
    def label(self) -> str:
        return {
            "recipient": "Mottagaradress",
            "sender_domain": "Avsändardomän",
            "subject": "Ord i ämnesraden",
        }[self.value]


class RoutingRule(Model):
    """First match wins, in `position` order; unmatched mail goes to the general queue."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=100)
    kind: Mapped[RuleKind] = mapped_column(str_enum(RuleKind))
    pattern: Mapped[str] = mapped_column(sa.String(200))
    case_type_id: Mapped[int] = mapped_column(sa.ForeignKey("case_types.id"))
    # A function mailbox (bygglov@) goes straight to its department's inbox; a word in the
    # subject may only classify the case and leave it with the contact center.
    to_department: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)

    case_type: Mapped[CaseType] = relationship()


class MailTemplate(Model):
    """The acknowledgement and answer templates, editable by admins. Placeholders:
    {referens}, {servicelöfte}, {ämne}, {namn}."""

    __tablename__ = "mail_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60), unique=True)  # "acknowledgement", "answer-…"
    name: Mapped[str] = mapped_column(sa.String(120))
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    body: Mapped[str] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(default=True)

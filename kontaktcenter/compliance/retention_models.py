"""Gallring (retention): the rules per case type, legal holds, each case's gallring state and
the log of runs.

A rule keeps a case type's cases for N months after closure, or "vid inaktualitet": then no
time runs out by itself, and a case is gallrad only after someone has decided, on the case,
that it is no longer current (:class:`CaseRetention.inactual_at`). One active rule per case
type, and one active default rule for the cases without a case type or whose type has none.
A case's retention state lives beside the case (``case_retention``), not in ``cases``: the
gallring job is the only writer of ``gallrad_at``, and a gallrad case is never processed again.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.channels.email.models import MailAttachment
from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import CaseType, User

_ACTIVE_TYPE = sa.text("active AND case_type_id IS NOT NULL")
_ACTIVE_DEFAULT = sa.text("active AND case_type_id IS NULL")
_ACTIVE_HOLD = sa.text("released_at IS NULL")


class RetentionMode(StrEnum):
    MONTHS = "months"  # N months after the case was closed
    INACTUAL = "inactual"  # "vid inaktualitet": only after a decision on the case

    @property
    def label(self) -> str:
        return {
            "months": "Antal månader efter avslut",
            "inactual": "Vid inaktualitet",
        }[self.value]


def period_label(mode: RetentionMode, months: int | None) -> str:
    """A rule's period as the pages say it."""
    if mode == RetentionMode.INACTUAL:
        return "Vid inaktualitet"
    return f"{months} månader efter avslut"


class RetentionRule(Model):
    __tablename__ = "retention_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: the default rule (cases without a case type, or whose type has no rule).
    case_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_types.id"))
    mode: Mapped[RetentionMode] = mapped_column(str_enum(RetentionMode))
    months: Mapped[int | None] = mapped_column()
    # The gallringsbeslut the rule follows: its name, date and (optional) diarienummer or link.
    decision_name: Mapped[str] = mapped_column(sa.String(200))
    decision_date: Mapped[date] = mapped_column(sa.Date)
    decision_reference: Mapped[str | None] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    case_type: Mapped[CaseType | None] = relationship()

    __table_args__ = (
        sa.Index(
            "uq_retention_rules_active_type",
            "case_type_id",
            unique=True,
            postgresql_where=_ACTIVE_TYPE,
            sqlite_where=_ACTIVE_TYPE,
        ),
        sa.Index(
            "uq_retention_rules_active_default",
            "active",
            unique=True,
            postgresql_where=_ACTIVE_DEFAULT,
            sqlite_where=_ACTIVE_DEFAULT,
        ),
        sa.CheckConstraint(
            "(mode = 'months' AND months > 0) OR (mode = 'inactual' AND months IS NULL)",
            name="months_for_mode",
        ),
    )

    @property
    def scope_label(self) -> str:
        return self.case_type.name if self.case_type else "Standardregel (övriga ärenden)"

    @property
    def period_label(self) -> str:
        return period_label(self.mode, self.months)


class LegalHold(Model):
    """A hold on a case (a dispute, a request from the police, an appeal…): never gallrad while
    one is set. Set and released with a reason; the rows stay as the history."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    release_reason: Mapped[str | None] = mapped_column(sa.Text)

    set_by: Mapped[User | None] = relationship(foreign_keys=[set_by_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])

    __table_args__ = (
        sa.Index(
            "uq_legal_holds_active",
            "case_id",
            unique=True,
            postgresql_where=_ACTIVE_HOLD,
            sqlite_where=_ACTIVE_HOLD,
        ),
    )


class CaseRetention(Model):
    """A case's gallring state: declared no longer current ("inaktuell", for the rules "vid
    inaktualitet"), and gallrad (when, by which rule and run)."""

    __tablename__ = "case_retention"

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id"), primary_key=True, autoincrement=False
    )
    inactual_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inactual_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    gallrad_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("retention_rules.id"))
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("retention_runs.id"))

    rule: Mapped[RetentionRule | None] = relationship()


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {
            "queued": "Väntar",
            "running": "Pågår",
            "finished": "Klar",
            "failed": "Misslyckades",
        }[self.value]


class RetentionRun(Model):
    """One dry run or real run: who asked, when, and what it found or did."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    dry_run: Mapped[bool] = mapped_column()
    trigger: Mapped[str] = mapped_column(sa.String(20))  # admin | api | cli | schedule
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    state: Mapped[RunState] = mapped_column(str_enum(RunState), default=RunState.QUEUED)
    # The moment the run judges "past its time" by: a resumed run keeps the same one.
    as_of: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # {"<rule id>": {"rule": label, "case_types": {name: n}, "total": n}}
    counts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    skipped: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)  # reason -> n
    sample: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    processed: Mapped[int] = mapped_column(default=0)
    # Keyset position: a resumed run goes on after the last case it committed.
    last_case_id: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)

    requested_by: Mapped[User | None] = relationship()

    @property
    def total(self) -> int:
        return sum(int(part.get("total", 0)) for part in self.counts.values())


# Gallring asks "is this attachment's blob still used?" for every attachment it deletes: an
# index on the column (declared here, on the e-mail table, so the schema test sees it).
sa.Index("ix_mail_attachments_blob_sha256", MailAttachment.blob_sha256)

SKIP_REASONS = {
    "legal_hold": "Bevarandebeslut (legal hold)",
    "pending_extract": "Pågående begäran om registerutdrag",
    "merged_into_kept": "Sammanslaget med ett ärende som ännu bevaras",
    "absorbed_held": "Ett ärende som slagits samman hit är spärrat",
}

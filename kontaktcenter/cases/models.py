"""Cases (ärenden), their append-only activity timeline, and the per-year reference counter."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, ContactKind, Outcome
from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import CaseType, Department, User

if TYPE_CHECKING:
    # Collections owned by higher areas, declared here so queries can eager-load them; resolved
    # by class name when the mappers are configured (every area's models are imported by then).
    from kontaktcenter.channels.email.models import MailMessage
    from kontaktcenter.goals.models import CaseGoal

_OPEN = sa.text("status <> 'closed'")
_ROUTED = sa.text("kind = 'routed'")
_LINKED = sa.text("linked_case_id IS NOT NULL")


class Case(Model):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.NEW)
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome))
    case_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_types.id"))
    # None: the case is with the contact center (first line). Set: routed to that department.
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    referred_to: Mapped[str | None] = mapped_column(sa.String(200))
    # A case opened from mail that cited another case's reference without being its party.
    linked_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    # Merged into another case (the same matter): closed, its mail moved there (cases/merging).
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Secrecy (OSL) on this case, on top of its case type's: a code of cases.secrecy.GROUNDS.
    secrecy_ground: Mapped[str | None] = mapped_column(sa.String(20))
    secrecy_set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    secrecy_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The nearest promise made for this case; the queue and the inbox sort by it.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the nearest goal enters its last 20 %: the queue marks the case "snart försenat".
    at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Optimistic locking: a second writer on a stale copy gets a conflict, not a silent overwrite.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    case_type: Mapped[CaseType | None] = relationship()
    linked_case: Mapped[Case | None] = relationship(
        remote_side="Case.id", foreign_keys=[linked_case_id]
    )
    merged_into: Mapped[Case | None] = relationship(
        remote_side="Case.id", foreign_keys=[merged_into_id]
    )
    department: Mapped[Department | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    secrecy_set_by: Mapped[User | None] = relationship(foreign_keys=[secrecy_set_by_id])
    contact: Mapped[Contact | None] = relationship()
    activities: Mapped[list[Activity]] = relationship(
        back_populates="case", order_by="Activity.id", cascade="save-update, merge"
    )
    messages: Mapped[list[MailMessage]] = relationship(
        back_populates="case", order_by="MailMessage.id", lazy="select"
    )
    goals: Mapped[list[CaseGoal]] = relationship(
        back_populates="case", order_by="CaseGoal.id", cascade="save-update, merge"
    )

    __table_args__ = (
        # The unified queue: open cases, most urgent first (keyset on due_at, received_at, id).
        sa.Index(
            "ix_cases_queue",
            "due_at",
            "received_at",
            "id",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        # The department inbox and "mine" use the same order within a department / assignee.
        sa.Index(
            "ix_cases_department_queue",
            "department_id",
            "due_at",
            "received_at",
            "id",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        sa.Index(
            "ix_cases_assignee_queue",
            "assignee_id",
            "due_at",
            "received_at",
            "id",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        # The queue's counts per channel: an index-only scan instead of reading the table.
        sa.Index(
            "ix_cases_open_channel",
            "channel",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        # The API lists cases by arrival.
        sa.Index("ix_cases_received", "received_at", "id"),
        # The overview's "closed today".
        sa.Index("ix_cases_closed_at", "closed_at"),
        # A case page's related cases (cases.relations: those merged into or linked to it);
        # without it every case page read the whole table (found with api_bench, #16).
        sa.Index(
            "ix_cases_linked_case_id",
            "linked_case_id",
            postgresql_where=_LINKED,
            sqlite_where=_LINKED,
        ),
        # The overview's counts of open work per channel and department, read from the index
        # alone (PostgreSQL; SQLite has no INCLUDE and uses it as a plain partial index).
        sa.Index(
            "ix_cases_open_board",
            "channel",
            "department_id",
            postgresql_include=[
                "assignee_id",
                "due_at",
                "at_risk_at",
                "callback_due_at",
                "callback_done_at",
            ],
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.status != CaseStatus.CLOSED

    @property
    def has_promise(self) -> bool:
        """False when no service goal is running (due_at is then the far-future sentinel)."""
        return self.due_at.year < 9999

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None

    @property
    def effective_secrecy_ground(self) -> str | None:
        """The case's own secrecy ground, else its case type's, else None (not secret)."""
        if self.secrecy_ground:
            return self.secrecy_ground
        return (self.case_type.secrecy_ground or None) if self.case_type is not None else None

    @property
    def is_secret(self) -> bool:
        return self.effective_secrecy_ground is not None

    @property
    def callback_pending(self) -> bool:
        return self.callback_due_at is not None and self.callback_done_at is None

    def __repr__(self) -> str:
        return f"<Case {self.reference}>"


class Activity(Model):
    """One entry of a case's timeline. Append-only: never updated or deleted."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind, 30))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    text: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="activities")
    actor: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        # The reports' forwarding chains: which cases were routed, and how often.
        sa.Index(
            "ix_activities_routed",
            "case_id",
            postgresql_where=_ROUTED,
            sqlite_where=_ROUTED,
        ),
    )


@sa.event.listens_for(Activity, "before_update")
@sa.event.listens_for(Activity, "before_delete")
def _activities_are_append_only(mapper: Any, connection: Any, target: Activity) -> None:
    # The one sanctioned change is gallring (compliance/anonymise.py): a plain UPDATE replaces
    # an entry's text and personal data, keeping its kind, actor and time. The ORM never may.
    raise RuntimeError("The case timeline is append-only")


class CaseLink(Model):
    """Two cases marked as related. Symmetric, so stored once: the lower case id first."""

    __tablename__ = "case_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    other_case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(foreign_keys=[case_id])
    other_case: Mapped[Case] = relationship(foreign_keys=[other_case_id])
    created_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("case_id", "other_case_id"),
        sa.CheckConstraint("case_id < other_case_id", name="ordered"),
    )


class CaseSequence(Model):
    """Last reference number handed out per year. Incremented with a row lock: no duplicates."""

    __tablename__ = "case_sequences"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(default=0)


class Contact(Model):
    """A citizen or business who contacted us. Minimal personal data (GDPR art. 5.1 c)."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ContactKind] = mapped_column(str_enum(ContactKind), default=ContactKind.CITIZEN)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    name_lower: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))  # as entered, for display
    phone_e164: Mapped[str | None] = mapped_column(sa.String(20), index=True)  # lookup key
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)  # lower-cased
    organisation_number: Mapped[str | None] = mapped_column(sa.String(11), index=True)
    personnummer: Mapped[str | None] = mapped_column(sa.String(13), index=True)  # YYYYMMDD-NNNN
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def personnummer_masked(self) -> str | None:
        return masked_personnummer(self.personnummer)

    @property
    def display_name(self) -> str:
        return display_name(self.name, self.phone, self.email)


# A contact's shown name and masked personnummer, for the ORM object and for the rows that
# lists read instead (queue, search, the API's list): one rule, not a copy per row type.


def display_name(name: str | None, phone: str | None, email: str | None) -> str:
    return name or phone or email or "Okänd"


def masked_personnummer(personnummer: str | None) -> str | None:
    """YYYYMMDD-****: the date of birth, never the last four."""
    return personnummer[:8] + "-****" if personnummer else None

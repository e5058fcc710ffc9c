"""Report subscriptions: a manager (or a handler, for their departments) gets the service report
by e-mail every week or month, as the contact-center platforms they know do.

Every hour the periodic job finds the subscriptions whose last complete period has not been
sent, records that period on the subscription and writes an outbox row in the same transaction:
each period is sent once, and a crash or a mail server that is down delays it, never loses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.cases.enums import Channel
from kontaktcenter.core import mailer, outbox
from kontaktcenter.core.errors import NotFound, ValidationError
from kontaktcenter.core.extensions import Model, UTCDateTime, db, str_enum, utcnow
from kontaktcenter.core.jobs import app_job
from kontaktcenter.organisation.models import User
from kontaktcenter.reports import export
from kontaktcenter.reports.periods import Period, ReportFilters, local_date, scope_of
from kontaktcenter.reports.report import service_report, summary

FREQUENCIES = {"weekly": "Varje vecka (förra veckan, på måndagar)", "monthly": "Varje månad"}
SUBSCRIPTIONS_MAX = 10  # per user


class ReportSubscription(Model):
    __tablename__ = "report_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    frequency: Mapped[str] = mapped_column(sa.String(10))
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("departments.id", ondelete="CASCADE")
    )
    case_type_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("case_types.id", ondelete="CASCADE")
    )
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The last day of the last period sent; the next one is sent when it has ended.
    sent_through: Mapped[date | None] = mapped_column(sa.Date)

    user: Mapped[User] = relationship()

    @property
    def label(self) -> str:
        return FREQUENCIES[self.frequency].split(" (")[0]


def last_complete_period(frequency: str, today: date) -> Period:
    if frequency == "weekly":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6))
    last = today.replace(day=1) - timedelta(days=1)
    return Period(last.replace(day=1), last)


@dataclass
class SubscriptionData:
    frequency: str
    department_id: int | None = None
    case_type_id: int | None = None
    channel: Channel | None = None


def subscribe(user: User, data: SubscriptionData) -> ReportSubscription:
    if data.frequency not in FREQUENCIES:
        raise ValidationError("Välj hur ofta rapporten ska skickas.", "frequency")
    scope = scope_of(user)
    if scope is not None and data.department_id is not None and data.department_id not in scope:
        raise ValidationError("Du kan bara se siffror för din egen förvaltning.", "department")
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ReportSubscription)
        .where(ReportSubscription.user_id == user.id)
    )
    if (count or 0) >= SUBSCRIPTIONS_MAX:
        raise ValidationError(f"Du kan ha högst {SUBSCRIPTIONS_MAX} prenumerationer.", "frequency")
    row = ReportSubscription(
        user=user,
        frequency=data.frequency,
        department_id=data.department_id,
        case_type_id=data.case_type_id,
        channel=data.channel,
        # The period that has just ended is not sent retroactively: the first mail is the next.
        sent_through=last_complete_period(data.frequency, local_date(utcnow())).last,
    )
    db.session.add(row)
    db.session.commit()
    return row


def subscriptions_of(user: User) -> list[ReportSubscription]:
    return list(
        db.session.scalars(
            sa.select(ReportSubscription)
            .where(ReportSubscription.user_id == user.id)
            .order_by(ReportSubscription.id)
        )
    )


def unsubscribe(user: User, subscription_id: int) -> None:
    row = db.session.get(ReportSubscription, subscription_id)
    if row is None or row.user_id != user.id:
        raise NotFound("Prenumerationen finns inte.")
    db.session.delete(row)
    db.session.commit()


@app_job
def send_due(now: datetime | None = None) -> int:
    """Record each subscription's newly completed period and have it mailed (the outbox).
    Idempotent: a period already recorded is not sent again. Returns how many were due."""
    today = local_date(now or utcnow())
    due = 0
    for row in db.session.scalars(sa.select(ReportSubscription).order_by(ReportSubscription.id)):
        period = last_complete_period(row.frequency, today)
        if row.sent_through is not None and row.sent_through >= period.last:
            continue
        row.sent_through = period.last
        outbox.add(
            "reports.send_subscription",
            subscription_id=row.id,
            first=period.first.isoformat(),
            last=period.last.isoformat(),
        )
        due += 1
    outbox.commit()
    return due


@outbox.task("reports.send_subscription")
def send_subscription(subscription_id: int, first: str, last: str) -> None:
    row = db.session.get(ReportSubscription, subscription_id)
    if row is None or not row.user.active:
        return  # unsubscribed or deactivated meanwhile
    user = row.user
    filters = ReportFilters(
        period=Period(date.fromisoformat(first), date.fromisoformat(last)),
        department_id=row.department_id,
        case_type_id=row.case_type_id,
        channel=row.channel,
        scope=scope_of(user),  # what the user may see today, not when they subscribed
    )
    report = service_report(filters)
    lines = [f"Servicerapport {filters.period.label}", ""]
    lines += [
        f"{section} {measure}: {'–' if value is None else value} {unit}"
        for section, measure, value, unit in summary(report)
    ]
    lines += [
        "",
        "Hela rapporten finns i bilagan och under Rapporter i Kontaktcenter.",
        "Avsluta prenumerationen under Rapporter.",
    ]
    message = mailer.build([user.email], f"Servicerapport {filters.period.label}", "\n".join(lines))
    message.add_attachment(
        export.as_xlsx(report),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=export.filename(report, "xlsx"),
    )
    mailer.send(message)

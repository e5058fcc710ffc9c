"""Report subscriptions: each completed period is mailed once, with the report attached, to a
user who may see those figures; the outbox carries it."""

from __future__ import annotations

import email
from datetime import date, datetime
from email import policy
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from kontaktcenter.core.extensions import db
from kontaktcenter.reports import subscriptions
from kontaktcenter.reports.subscriptions import ReportSubscription, SubscriptionData
from tests import factories

TZ = ZoneInfo("Europe/Stockholm")


def _mails(outbox) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(outbox.glob("*.eml"))
    ]


def test_periods():
    wednesday = date(2026, 12, 2)
    week = subscriptions.last_complete_period("weekly", wednesday)
    assert (week.first, week.last) == (date(2026, 11, 23), date(2026, 11, 29))
    month = subscriptions.last_complete_period("monthly", wednesday)
    assert (month.first, month.last) == (date(2026, 11, 1), date(2026, 11, 30))


def test_each_period_is_mailed_once_with_the_report_attached(org, outbox, monkeypatch):
    monkeypatch.setattr(subscriptions, "utcnow", lambda: datetime(2026, 11, 25, 9, tzinfo=TZ))
    sub = subscriptions.subscribe(org.manager, SubscriptionData("weekly"))
    assert sub.sent_through == date(2026, 11, 22)  # the week just ended is not sent afterwards
    assert subscriptions.send_due(datetime(2026, 11, 28, 9, tzinfo=TZ)) == 0  # same week
    assert subscriptions.send_due(datetime(2026, 11, 30, 7, tzinfo=TZ)) == 1  # Monday
    assert subscriptions.send_due(datetime(2026, 11, 30, 8, tzinfo=TZ)) == 0  # once
    (mail,) = _mails(outbox)
    assert mail["To"] == org.manager.email
    assert mail["Subject"] == "Servicerapport 2026-11-23 – 2026-11-29"
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "servicerapport-2026-11-23-2026-11-29.xlsx"
    assert "email received: 0 antal" in mail.get_body(("plain",)).get_content()


def test_subscribe_and_unsubscribe_on_the_page(org, login, client, outbox):
    login(org.handler_bygg)
    answer = factories.post(
        client,
        "/rapporter/prenumerationer",
        {"frequency": "monthly", "department": str(org.bygg.id)},
    )
    assert answer.status_code == 302
    (sub,) = db.session.scalars(sa.select(ReportSubscription)).all()
    assert (sub.user_id, sub.frequency, sub.department_id) == (
        org.handler_bygg.id,
        "monthly",
        org.bygg.id,
    )
    # Not another department's figures, nor someone else's subscription.
    refused = factories.post(
        client,
        "/rapporter/prenumerationer",
        {"frequency": "weekly", "department": str(org.miljo.id)},
    )
    assert refused.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportSubscription)) == 1
    login(org.manager)
    assert (
        factories.post(client, f"/rapporter/prenumerationer/{sub.id}/avsluta")
    ).status_code == 404
    login(org.handler_bygg)
    factories.post(client, f"/rapporter/prenumerationer/{sub.id}/avsluta")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportSubscription)) == 0


def test_without_the_csrf_token_nothing_is_saved(org, login, client):
    login(org.manager)
    assert (
        client.post("/rapporter/prenumerationer", data={"frequency": "weekly"}).status_code == 400
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportSubscription)) == 0

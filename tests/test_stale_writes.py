"""A write that lands between reading a case and saving it (another person, another process).

The version in the form catches an edit made before the form was posted; these tests cover the
other window: someone commits a change after the service compared versions and before its
UPDATE. SQLAlchemy's version counter then updates no row and raises StaleDataError, which must
become the same clear conflict (409, the input kept, nothing half-written), never a 500.

`concurrent_write` makes that other change at the worst moment: when the session is about to
flush the case, the case's version is bumped behind the ORM's back. Inside the per-test
transaction it is written on the test's own connection (and so rolled back with the action);
on PostgreSQL a second connection commits it for real, and the whole story is checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from kontaktcenter import create_app
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.errors import STALE_MESSAGE
from kontaktcenter.core.extensions import db
from kontaktcenter.core.outbox import OutboxJob
from kontaktcenter.goals.recompute import refresh_open_cases
from tests import factories
from tests.api_client import api_as, error_of
from tests.conftest import RequestIsolatingClient, postgres_url
from tests.factories import make_case, post

CASES = Case.__table__
BUMP = sa.update(CASES).values(version=CASES.c.version + 1, summary=CASES.c.summary + " (ändrat)")
Writer = Callable[[Session, int], None]


def on_the_same_connection(session: Session, case_id: int) -> None:
    session.connection().execute(BUMP.where(CASES.c.id == case_id))


def committed_by_another_connection(session: Session, case_id: int) -> None:
    with db.engine.begin() as other:  # a second pooled connection: a real concurrent commit
        other.execute(BUMP.where(CASES.c.id == case_id))


@contextmanager
def concurrent_write(case_id: int, writer: Writer = on_the_same_connection) -> Iterator[list[int]]:
    """While active, the first flush that would write case `case_id` is preceded by another
    writer's change to it. Yields a list that gets the case id when that happened."""
    happened: list[int] = []

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        if happened:
            return
        if any(isinstance(o, Case) and o.id == case_id for o in session.dirty):
            writer(session, case_id)
            happened.append(case_id)

    sa.event.listen(Session, "before_flush", before_flush)
    try:
        yield happened
    finally:
        sa.event.remove(Session, "before_flush", before_flush)


def _stored(case_id: int) -> sa.Row[Any]:
    row = db.session.execute(
        sa.select(CASES.c.version, CASES.c.summary, CASES.c.status).where(CASES.c.id == case_id)
    ).one()
    db.session.commit()  # end the read: the next one sees later commits (PostgreSQL)
    return row


def _kinds(case: Case) -> list[ActivityKind]:
    db.session.expire_all()
    return [a.kind for a in case.activities]


def _page_version(html: str) -> int:
    match = re.search(r'name="version"[^>]*value="(\d+)"', html)
    assert match, "no version in the page's forms"
    return int(match.group(1))


CLOSE = {"resolution": "Förklarade reglerna för altan."}


def test_a_close_that_loses_the_race_is_a_conflict_with_the_text_kept(client, org, login):
    case = make_case(org.agent, org.bygglov)
    kinds = _kinds(case)
    login(org.handler_bygg)
    with concurrent_write(case.id) as happened:
        response = post(client, f"/arenden/{case.id}/close", {"version": str(case.version)} | CLOSE)
    assert happened, "the concurrent write never ran: the test tests nothing"
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Någon annan har ändrat ärendet" in html
    assert CLOSE["resolution"] in html  # what the person wrote is still in the form
    assert _kinds(case) == kinds and case.status != CaseStatus.CLOSED
    assert _page_version(html) == _stored(case.id).version


def test_an_api_note_that_loses_the_race_is_a_409(client, org):
    case = make_case(org.agent, org.bygglov)
    kinds = _kinds(case)
    api = api_as(client, org.handler_bygg)
    with concurrent_write(case.id) as happened:
        response = api.post(
            f"/cases/{case.reference}/notes", {"text": "Ringde igen", "version": case.version}
        )
    assert happened
    assert response.status_code == 409
    assert error_of(response) == {"code": "conflict", "message": STALE_MESSAGE}
    assert _kinds(case) == kinds


def test_a_reply_that_loses_the_race_leaves_no_message_and_no_delivery(client, org, outbox):
    case = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Anna", email="anna@example.se")
    )
    api = api_as(client, org.handler_bygg)
    messages = db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage))
    jobs = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob))
    with concurrent_write(case.id) as happened:
        response = api.post(f"/cases/{case.reference}/replies", {"body": "Hej! Här är svaret."})
    assert happened
    assert response.status_code == 409 and error_of(response)["code"] == "conflict"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage)) == messages
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == jobs
    assert not list(outbox.glob("*.eml"))  # nothing went out


@pytest.mark.usefixtures("db_session")
def test_the_calendar_recompute_skips_a_case_edited_meanwhile_and_does_the_rest(org):
    first = make_case(org.agent, org.bygglov)
    second = make_case(org.agent, org.bygglov)
    right = second.due_at
    wrong = datetime(2000, 1, 3, 9, tzinfo=UTC)  # as if computed from an older calendar
    db.session.execute(sa.update(CASES).values(due_at=wrong))
    db.session.commit()
    with concurrent_write(first.id) as happened:
        changed = refresh_open_cases()  # no exception: one case edited meanwhile costs itself
    assert happened
    assert changed == 1
    db.session.expire_all()
    assert second.due_at == right
    assert first.due_at == wrong  # left for its own next action to recompute


# -- The same race with a real second connection (PostgreSQL, real commits) -----------------


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": postgres_url("kontaktcenter_stale")})
    app.test_client_class = RequestIsolatingClient
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.postgres
def test_a_close_racing_a_committed_change_on_postgresql(pg_app):
    with pg_app.app_context():
        org = factories.make_org()
        case = make_case(org.agent, org.bygglov)
        case_id, version = case.id, case.version
        client = pg_app.test_client()
        token = factories.csrf_token(client)
        client.post(
            "/login",
            data={
                "email": org.handler_bygg.email,
                "password": factories.PASSWORD,
                "csrf_token": token,
            },
        )
        with concurrent_write(case_id, committed_by_another_connection) as happened:
            response = post(client, f"/arenden/{case_id}/close", {"version": str(version)} | CLOSE)
        assert happened
        assert response.status_code == 409
        html = response.get_data(as_text=True)
        assert "Någon annan har ändrat ärendet" in html and CLOSE["resolution"] in html
        stored = _stored(case_id)
        assert stored.version == version + 1 and stored.status != CaseStatus.CLOSED.value
        assert "Fråga om altan (ändrat)" in html  # the page shows the other person's change
        assert _page_version(html) == stored.version  # so sending it again works
        again = post(client, f"/arenden/{case_id}/close", {"version": str(stored.version)} | CLOSE)
        assert again.status_code == 302
        assert _stored(case_id).status == CaseStatus.CLOSED.value
        db.session.remove()

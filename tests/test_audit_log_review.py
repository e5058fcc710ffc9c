"""Review findings on the audit log (issue #15): a seq hidden at or below the anchor, cursors
and user filters that gave a 500, and look-ups the person and case filters did not find."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from kontaktcenter import create_app
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.compliance import audit_queries
from kontaktcenter.compliance.audit_queries import AuditFilters
from kontaktcenter.core import audit, audit_chain
from kontaktcenter.core.audit import AuditChain, AuditEvent
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from tests import factories
from tests.api_client import api_as, error_of
from tests.conftest import postgres_url, rolled_back_session
from tests.factories import make_case

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PNR = "19811218-9876"


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _aged(user, created: datetime) -> int:
    event = audit.add(user, "view_case")
    event.created_at = created
    db.session.commit()
    return event.id


# -- 2: a seq at or below the anchor -------------------------------------------------------------


def test_a_seq_that_is_not_positive_is_refused(org):
    audit.add(org.admin, "view_case")
    db.session.commit()
    audit_chain.seal()
    victim = audit.add(org.handler_bygg, "reveal_personnummer")
    db.session.commit()
    # The CHECK (on PostgreSQL the trigger refuses the UPDATE first, see the end of the file):
    with pytest.raises(sa.exc.DBAPIError), db.session.begin_nested():
        db.session.execute(
            sa.text("UPDATE audit_events SET seq = -1, hash = :h WHERE id = :id"),
            {"h": "0" * 64, "id": victim.id},
        )
    for seq in (0, -1):
        with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
            db.session.execute(
                sa.insert(AuditEvent.__table__).values(
                    action="view_case", created_at=NOW, detail={}, seq=seq, hash="0" * 64
                )
            )
    assert audit_chain.verify().intact


def test_an_event_at_or_below_the_anchor_breaks_the_verification(org):
    # The purge removes everything up to the anchor: a row still there was put there, e.g. to
    # be deleted as "purged" (SQLite has no trigger to refuse that).
    old = [_aged(org.admin, NOW - timedelta(days=800 + i)) for i in range(2)]
    _aged(org.admin, NOW - timedelta(days=1))
    audit_chain.seal()
    assert audit_chain.purge(now=NOW, months=24) == 2
    assert db.session.get(AuditEvent, old[0]) is None
    victim = audit.add(org.handler_bygg, "reveal_personnummer")
    db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        return  # the trigger refuses the UPDATE below (test_the_trigger_... further down)
    db.session.execute(
        sa.text("UPDATE audit_events SET seq = 1, hash = :h WHERE id = :id"),
        {"h": "0" * 64, "id": victim.id},
    )
    db.session.commit()
    result = audit_chain.verify()
    assert not result.intact and result.broken_seq == 1, result


# -- 3, 4: a cursor or a user filter that gave a 500 ---------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "9999-12-31T23:59:59-23:00|1",  # OverflowError in UTC
        "0001-01-01T00:00:00+23:00|1",
        "3000-01-01T00:00:00+00:00|1",  # past the years a day filter allows
        "1999-12-31T23:00:00+00:00|1",
    ],
)
def test_a_cursor_out_of_range_is_refused(app, raw):
    with pytest.raises(ValidationError):
        audit_queries.decode_cursor(_cursor(raw))


def test_a_cursor_in_range_is_read(app):
    moment, event_id = audit_queries.decode_cursor(_cursor("2026-06-15T12:00:00+02:00|7"))
    assert event_id == 7 and moment.astimezone(UTC).hour == 10


def test_a_cursor_near_year_9999_is_refused_on_the_api_and_the_admin_page(client, login, org):
    cursor = _cursor("9999-12-31T23:59:59-23:00|1")
    response = api_as(client, org.admin).get(f"/audit-events?cursor={cursor}")
    assert response.status_code == 422 and error_of(response)["field"] == "cursor"
    login(org.admin)
    page = client.get(f"/admin/granskningslogg?cursor={cursor}")
    assert page.status_code == 422 and "fortsättningsmarkör" in page.get_data(as_text=True)


def test_a_superscript_digit_as_user_is_not_a_500(client, org):
    api = api_as(client, org.admin)
    response = api.get("/audit-events?user=%C2%B2")  # "²": isdigit() is True, int() fails
    assert response.status_code == 200, response.status_code
    assert response.json["items"] == []
    assert audit_queries.user_id_for("²") is None
    assert audit_queries.user_id_for(f" {org.admin.id} ") == org.admin.id


# -- 5: who looked a person up; an API listing per case ------------------------------------------


def test_who_searched_for_a_person_is_found_by_that_person(client, login, org):
    case = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sven Svensson", personnummer=PNR)
    )
    login(org.agent)
    token = factories.csrf_token(client)
    assert client.post("/sok/", data={"q": PNR, "csrf_token": token}).status_code == 200
    rows = audit_queries.search(AuditFilters(person=PNR, action="search")).rows
    assert [row.contact_id for row in rows] == [case.contact_id]
    assert rows[0].user_id == org.agent.id
    assert PNR.replace("-", "") not in str(rows[0].detail) and "9876" not in str(rows[0].detail)


def test_a_search_that_finds_no_one_is_still_logged(client, login, org):
    login(org.agent)
    token = factories.csrf_token(client)
    assert client.post("/sok/", data={"q": PNR, "csrf_token": token}).status_code == 200
    rows = audit_queries.search(AuditFilters(action="search")).rows
    assert len(rows) == 1 and rows[0].contact_id is None


def test_an_api_listing_shows_in_who_has_looked(client, org):
    case = make_case(org.agent, org.bygglov, contact=ContactData(name="Sven Svensson"))
    api = api_as(client, org.admin)
    assert api.get("/cases").status_code == 200
    rows = audit_queries.search(AuditFilters(case=case.reference, action="list_cases")).rows
    assert len(rows) == 1 and rows[0].contact_id == case.contact_id
    assert any(v.user_id == org.admin.id for v in audit_queries.viewers(case.id))


# -- 2 on PostgreSQL: the trigger --------------------------------------------------------------

pg_only = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    url = postgres_url("kontaktcenter_audit_review")
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def pg(pg_app: Flask) -> Iterator[None]:
    with rolled_back_session(pg_app):
        yield


@pg_only
def test_the_trigger_refuses_a_seq_at_or_below_the_head(pg):
    admin = factories.make_user(Role.ADMIN)
    for days in (801, 800, 1):
        _aged(admin, NOW - timedelta(days=days))
    audit_chain.seal()
    assert audit_chain.purge(now=NOW, months=24) == 2  # seq 1 and 2 are free now
    victim = audit.add(admin, "reveal_personnummer")
    db.session.commit()
    with pytest.raises(sa.exc.DBAPIError) as refused, db.session.begin_nested():
        db.session.execute(
            sa.text("UPDATE audit_events SET seq = 1, hash = :h WHERE id = :id"),
            {"h": "0" * 64, "id": victim.id},
        )
    assert refused.value.orig.sqlstate == "42501"  # type: ignore[union-attr]
    assert db.session.get(AuditEvent, victim.id) is not None
    assert audit_chain.seal() == 1
    assert audit_chain.verify().intact


@pg_only
def test_the_chain_row_is_not_replaced_under_sealed_events(pg):
    admin = factories.make_user(Role.ADMIN)
    _aged(admin, NOW)
    audit_chain.seal()
    row = dict(db.session.execute(sa.text("SELECT * FROM audit_chain")).mappings().one())
    db.session.execute(sa.text("DELETE FROM audit_chain"))  # breaks the chain: verify says so
    with pytest.raises(sa.exc.DBAPIError) as refused, db.session.begin_nested():
        db.session.execute(sa.insert(AuditChain.__table__).values(**row))
    assert refused.value.orig.sqlstate == "42501"  # type: ignore[union-attr]
    assert not audit_chain.verify().intact

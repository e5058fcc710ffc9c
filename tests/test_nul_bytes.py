"""Bad input that used to reach the database, and personal data that used to reach the logs
(issue #13, item 13): a NUL character is refused as bad input before any view, in every query
string, form and JSON body; a failing statement logs its SQL but never its values; failed jobs
log no citizen's address or personnummer."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.routing import Rule

from kontaktcenter import create_app
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailStatus
from kontaktcenter.core import outbox
from kontaktcenter.core.config import Config
from kontaktcenter.core.extensions import db
from tests.api_client import api_as, error_of
from tests.factories import post
from tests.mailservers import smtp_server
from tests.mailutil import make_mail

NUL_PAGE = "otillåtet tecken"
SECRET = "Tolvan Tolvansson 19121212-1212"


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_the_issues_example_is_400_not_500(org, client, login):
    login(org.agent)
    response = client.get("/direktnummer/?q=%00")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Felaktig begäran" in page and NUL_PAGE in page


def _plain_get_pages(app) -> list[str]:
    """Every page without a path parameter that answers GET (the API's too)."""
    rules: list[Rule] = [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    ]
    return sorted(rule.rule for rule in rules)


def test_every_get_page_refuses_a_nul_in_its_query_string(org, client, login, app):
    login(org.admin)  # admins pass every role gate: every view would run
    pages = _plain_get_pages(app)
    assert "/sok/" in pages and "/ko/" in pages and "/rapporter/" in pages
    for page in pages:
        if page.startswith("/api/"):
            continue
        for query in ("q=%00", "department=kc%00x", "%00=1"):
            response = client.get(f"{page}?{query}")
            assert response.status_code == 400, (page, query, response.status_code)
            assert NUL_PAGE in response.get_data(as_text=True), (page, query)


def test_a_nul_in_a_form_is_400_and_nothing_is_saved(org, client, login):
    login(org.agent)
    before = _count(Case)
    response = post(
        client, "/samtal/ny", {"summary": "Hej\x00då", "outcome": "answered", "phone": "070"}
    )
    assert response.status_code == 400 and NUL_PAGE in response.get_data(as_text=True)
    assert _count(Case) == before


def test_the_api_answers_a_nul_in_the_query_with_its_json_400(org, client, app):
    api = api_as(client, org.agent)
    for page in _plain_get_pages(app):
        if not page.startswith("/api/v1/"):
            continue
        response = api.get(f"{page}?q=x%00y")  # documented and validated (tests/api_client)
        assert response.status_code == 400, page
        assert error_of(response) == {
            "code": "bad_request",
            "message": error_of(response)["message"],
            "field": "q",
        }
        assert "NUL" in error_of(response)["message"]
    response = api.get("/cases?channel=phone%00")
    assert response.status_code == 400 and error_of(response)["field"] == "channel"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"channel": "phone", "summary": "nul\x00byte", "outcome": "answered"}, "summary"),
        ({"channel": "phone", "summary": "Hej", "contact": {"name": "Sven\x00"}}, "contact.name"),
        ({"channel": "phone", "summary": "Hej", "outcome\x00": "answered"}, "outcome"),
        ({"channel": "phone", "summary": "Hej", "tags": ["a", "b\x00"]}, "tags.1"),
    ],
)
def test_the_api_answers_a_nul_in_a_json_body_with_its_400(org, client, body, field):
    api = api_as(client, org.agent)
    before = _count(Case)
    response = api.post("/cases", body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "bad_request" and error["field"] == field
    assert _count(Case) == before


def test_a_nul_in_a_search_body_is_400(org, client):
    response = api_as(client, org.agent).post("/search", {"q": "19121212\x001212"})
    assert response.status_code == 400 and error_of(response)["field"] == "q"


# --- logs ------------------------------------------------------------------------------------


@pytest.fixture
def production_app(tmp_path: Path):
    """The app as production configures it (Config, not TestConfig), on an empty database."""
    return create_app(
        Config,
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}",
            "SECRET_KEY": "p" * 40,
            "JOBS_MODE": "eager",
            "SCHEDULER_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "OUTBOX_DIR": str(tmp_path / "outbox"),
        },
    )


def test_a_database_error_logs_the_statement_but_no_values(production_app, caplog, monkeypatch):
    # The migrations' logging.config.fileConfig switched off the loggers that existed then.
    monkeypatch.setattr(production_app.logger, "disabled", False)

    def look_up_by_name() -> None:  # a statement with personal data that fails
        db.session.execute(sa.text("SELECT id FROM contacts WHERE name = :name"), {"name": SECRET})

    production_app.before_request_funcs.setdefault(None, []).insert(0, look_up_by_name)
    with caplog.at_level(logging.ERROR):
        response = production_app.test_client().get("/direktnummer/")
    assert response.status_code == 500
    assert SECRET not in response.get_data(as_text=True)
    logged = caplog.text  # the message and the traceback
    assert "no such table: contacts" in logged and "SELECT id FROM contacts" in logged
    assert SECRET not in logged and "Tolvan" not in logged and "1212" not in logged


@outbox.task("test.refused_by_the_server")
def _refused() -> None:
    raise RuntimeError(
        "{'anna.berg@example.se': (550, b'5.1.1 <anna.berg@example.se> unknown')} "
        "in reply to 19121212-1212"
    )


def test_a_failed_job_logs_no_address_and_no_personnummer(org, app, caplog, monkeypatch):
    # The migrations' logging.config.fileConfig switched off the loggers that existed then.
    monkeypatch.setattr(logging.getLogger("kontaktcenter.core.outbox"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="kontaktcenter.core.outbox"):
        outbox.add("test.refused_by_the_server")
        outbox.commit()
    logged = caplog.text
    assert "failed (attempt 1)" in logged and "…@example.se" in logged and "19121212-****" in logged
    assert "anna.berg" not in logged and "19121212-1212" not in logged


def test_a_refused_delivery_logs_no_address(org, app, outbox, caplog, monkeypatch):
    """A real SMTP server refuses the citizen's address: the case shows it (the agent must see
    who did not get the answer), the log only the domain."""
    monkeypatch.setattr(logging.getLogger("kontaktcenter.channels.email.tasks"), "disabled", False)
    case_ref = ingest(make_mail(sender="anna.berg@example.se")).reference
    case = db.session.scalars(sa.select(Case).where(Case.reference == case_ref)).one()
    with smtp_server() as server:
        server.recorder.refuse["anna.berg@example.se"] = "550 5.1.1 Mottagaren finns inte"
        app.config["SMTP_URL"] = server.url()
        try:
            with caplog.at_level(logging.WARNING, logger="kontaktcenter.channels.email.tasks"):
                reply = outbound.reply(case, org.agent, "Svaret som inte kommer fram.")
        finally:
            app.config["SMTP_URL"] = None
    assert reply.status == MailStatus.FAILED and "anna.berg@example.se" in reply.reason
    logged = caplog.text
    assert "Giving up" in logged and "…@example.se" in logged and "anna.berg" not in logged

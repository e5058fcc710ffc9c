"""The audit log you can read: Administration → Granskningslogg (search, pages, CSV, the chain
check) and "who has looked at this case" on the case page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import render_template

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.compliance import audit_views
from kontaktcenter.core import audit
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from tests.factories import csrf_token, make_case, make_user, post

PNR = "19811218-9876"
URL = "/admin/granskningslogg"


@pytest.fixture
def case(org):
    return make_case(
        org.agent,
        org.bygglov,
        contact=ContactData(name="Sven Svensson", personnummer=PNR, phone="070-123 45 67"),
    )


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def _search(client, **fields):
    return post(client, URL, {name: value for name, value in fields.items()})


ROUTES = [("GET", URL), ("POST", URL), ("POST", f"{URL}/kontrollera")]


def test_admins_only_on_every_route_of_the_module(app, org, login):
    adapter = app.url_map.bind("localhost")
    listed = {(adapter.match(path, method)[0], method) for method, path in ROUTES}
    registered = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == audit_views.__name__
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert listed == registered  # a new route without an access test fails here
    for user in (org.agent, org.handler_bygg, org.manager):
        client = login(user)
        for method, path in ROUTES:
            response = client.get(path) if method == "GET" else post(client, path, {"c": "x"})
            assert response.status_code == 403, (user.role, method, path)


def test_searching_by_case_user_action_and_days(app, org, case, login):
    audit.record(org.handler_bygg, "view_case", case)
    audit.record(org.handler_miljo, "search", kind="phone", query="070…")
    client = login(org.admin)
    html = client.get(f"{URL}?case={case.reference}").get_data(as_text=True)
    rows = _rows(html)
    assert rows and all(case.reference in row for row in rows)
    assert any("Hugo Bygg" in row and "Visade ärende" in row for row in rows)
    assert not any("Hanna Miljö" in row for row in rows)
    rows = _rows(client.get(f"{URL}?user={org.handler_miljo.id}").get_data(as_text=True))
    assert len(rows) == 1 and "Sökte efter person" in rows[0]
    rows = _rows(client.get(f"{URL}?action=route_case").get_data(as_text=True))
    assert rows and all("Skickade ärende till förvaltning" in row for row in rows)
    # The page's days are local days (between 00:00 and 01:00 in Stockholm, UTC's is another).
    today = datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert "Inga händelser" in client.get(f"{URL}?from={tomorrow}").get_data(as_text=True)
    yesterday = (today - timedelta(days=1)).isoformat()
    assert _rows(client.get(f"{URL}?from={yesterday}&to={tomorrow}").get_data(as_text=True))
    assert "Inga händelser" in client.get(f"{URL}?to={yesterday}").get_data(as_text=True)


def test_searching_for_a_person_posts_shows_the_number_masked_and_is_logged(org, case, login):
    audit.record(org.handler_bygg, "reveal_personnummer", case)
    client = login(org.admin)
    ignored = client.get(f"{URL}?person={PNR}&action=reveal_personnummer")  # never in a URL
    assert len(_rows(ignored.get_data(as_text=True))) == 1
    response = _search(client, person="198112189876", action="reveal_personnummer")
    html = response.get_data(as_text=True)
    rows = _rows(html)
    assert len(rows) == 1 and "19811218-****" in rows[0] and "Sven Svensson" in rows[0]
    assert PNR not in html.replace(f'value="{PNR}"', "")
    logged = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "search_audit_log")
    ).one()
    assert logged.user_id == org.admin.id and logged.detail["filters"]["person"] == "19811218-****"
    by_phone = _rows(_search(client, person="0701234567").get_data(as_text=True))
    assert any("Visade personnummer" in row for row in by_phone), by_phone
    nobody = _search(client, person="nobody@example.se").get_data(as_text=True)
    assert "Inga händelser" in nobody


def test_bad_input_is_a_swedish_message_not_a_500(org, login):
    client = login(org.admin)
    for query, message in (
        ("from=2024-13-01", "ÅÅÅÅ-MM-DD"),
        ("from=2024-05-02&to=2024-05-01", "Slutdatumet"),
        ("action=drop_table", "Välj en händelse"),
        ("cursor=bm9wZQ", "fortsättningsmarkör"),
    ):
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 422, query
        assert message in response.get_data(as_text=True), query
    response = _search(client, person="inte ett nummer")
    assert response.status_code == 422
    assert "personnummer, e-post eller telefon" in response.get_data(as_text=True)


def test_pages_continue_newest_first(org, login, monkeypatch):
    monkeypatch.setattr(audit_views, "PAGE_SIZE", 3)
    for n in range(5):
        audit.record(org.handler_bygg, "view_contact", n=n)
    client = login(org.admin)
    first = client.get(f"{URL}?user={org.handler_bygg.id}").get_data(as_text=True)
    assert [re.search(r"n: (\d)", row).group(1) for row in _rows(first)] == ["4", "3", "2"]
    cursor = re.search(r'name="cursor" value="([^"]+)"', first).group(1)
    second = _search(client, user=str(org.handler_bygg.id), cursor=cursor)
    assert [
        re.search(r"n: (\d)", row).group(1) for row in _rows(second.get_data(as_text=True))
    ] == [
        "1",
        "0",
    ]
    assert 'name="cursor"' not in second.get_data(as_text=True)


def test_csv_export_of_a_search_is_itself_logged(org, case, login):
    audit.record(org.handler_bygg, "view_case", case)
    audit.record(make_user(Role.HANDLER, name="=SUM(1)"), "search", case, query=f"q {PNR}")
    client = login(org.admin)
    response = _search(client, case=case.reference, export="csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Tid (UTC);")
    assert any("Hugo Bygg" in line and "Visade ärende" in line for line in lines)
    assert all(PNR not in line for line in lines)
    typed = next(line for line in lines if "SUM" in line)
    assert ";'=SUM(1);" in typed  # never a formula a spreadsheet runs
    exported = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "export_audit_log")
    ).one()
    assert exported.user_id == org.admin.id
    assert (
        exported.detail["filters"]["case"] == case.reference
        and exported.detail["rows"] == len(lines) - 1
    )


def _admin_panel(app) -> str:
    """The panel as the admin index renders it (its context as ``context``)."""
    with app.test_request_context("/admin/"):
        context = audit_views._chain_panel()
        return render_template("compliance/audit/_admin_panel.html", context=context)


def test_the_chain_check_on_the_page_and_the_admin_index(app, org, login):
    audit.record(org.handler_bygg, "view_contact")
    client = login(org.admin)
    assert "inte kontrollerats" in _admin_panel(app)
    response = post(client, f"{URL}/kontrollera", {}, follow_redirects=True)
    assert "Granskningsloggen är obruten" in response.get_data(as_text=True)
    assert "var <strong>obruten</strong>" in _admin_panel(app)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "view_contact")
    ).one()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_guard"))
    db.session.execute(
        sa.text("UPDATE audit_events SET action = 'x' WHERE id = :i"), {"i": event.id}
    )
    db.session.commit()
    response = post(client, f"{URL}/kontrollera", {}, follow_redirects=True)
    assert "inte obruten" in response.get_data(as_text=True)
    assert "Kedjan är bruten" in _admin_panel(app)
    assert "Kedjan är bruten" in client.get(URL).get_data(as_text=True)
    assert post(client, f"{URL}/kontrollera", {"csrf_token": "x"}).status_code == 400


# -- Who has looked at this case -----------------------------------------------------------------

PANEL = "Vem har tittat på ärendet"


def test_the_owning_departments_manager_sees_who_looked(org, case, login):
    manager_bygg = make_user(Role.MANAGER, [org.bygg], name="Bodil Byggchef")
    audit.record(org.handler_bygg, "view_case", case)
    audit.record(org.handler_bygg, "view_case", case)
    audit.record(org.agent, "reveal_personnummer", case)
    audit.record(org.handler_miljo, "search")  # not about the case
    client = login(manager_bygg)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert PANEL in html
    panel = html.split(PANEL, 1)[1].split("</section>", 1)[0]
    assert re.search(r"Hugo Bygg</th><td>2</td>", panel)
    assert re.search(r"Agnes Agent</th><td>1</td>", panel)
    assert "Hanna Miljö" not in panel
    assert "Hela granskningsloggen" not in panel  # the log itself is for admins


def test_others_do_not_see_the_panel_and_admins_get_the_link(org, case, login):
    manager_miljo = make_user(Role.MANAGER, [org.miljo])
    for user in (manager_miljo, org.manager, org.handler_bygg, org.agent):
        html = login(user).get(f"/arenden/{case.id}").get_data(as_text=True)
        assert PANEL not in html, user.name
    html = login(org.admin).get(f"/arenden/{case.id}").get_data(as_text=True)
    assert PANEL in html
    assert f'href="/admin/granskningslogg?case={case.reference}"' in html


def test_csrf_is_required_for_a_search(org, login):
    client = login(org.admin)
    csrf_token(client, URL)
    assert client.post(URL, data={"case": "KC-2024-1"}).status_code == 400

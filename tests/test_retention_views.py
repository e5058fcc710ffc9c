"""The gallring pages: /admin/gallring (rules, dry run, run, log) and the case page's panel."""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.compliance.retention_models import (
    CaseRetention,
    LegalHold,
    RetentionMode,
    RetentionRule,
    RetentionRun,
)
from kontaktcenter.core.extensions import db
from tests.factories import post
from tests.test_retention_anonymise import rule as retention_rule
from tests.test_retention_runs import closed

RULE_FORM = {
    "case_type": "",
    "mode": "months",
    "months": "12",
    "decision_name": "Dokumenthanteringsplan för kontaktcenter",
    "decision_date": "2025-01-15",
    "decision_reference": "KS 2025/123",
}


def test_admin_creates_a_rule_and_runs_gallring(client, login, org):
    case = closed(org, 400)
    login(org.admin)
    page = client.get("/admin/gallring/")
    assert page.status_code == 200 and "Inga gallringsregler" in page.get_data(as_text=True)
    bad = post(client, "/admin/gallring/ny", {**RULE_FORM, "decision_name": ""})
    assert bad.status_code == 422
    made = post(client, "/admin/gallring/ny", RULE_FORM)
    assert made.status_code == 302
    rule = db.session.scalars(sa.select(RetentionRule)).one()
    html = client.get("/admin/gallring/").get_data(as_text=True)
    assert "KS 2025/123" in html and "12 månader efter avslut" in html
    dry = post(client, "/admin/gallring/provkor")
    assert dry.status_code == 302
    shown = client.get(dry.headers["Location"]).get_data(as_text=True)
    assert case.reference in shown and "Utan ärendetyp" not in shown
    assert db.session.get(CaseRetention, case.id) is None
    real = post(client, "/admin/gallring/kor")
    assert real.status_code == 302
    db.session.expire_all()
    assert db.session.get(CaseRetention, case.id).gallrad_at is not None
    runs = db.session.scalars(sa.select(RetentionRun).order_by(RetentionRun.id)).all()
    assert [(r.dry_run, r.trigger, r.requested_by_id) for r in runs] == [
        (True, "admin", org.admin.id),
        (False, "admin", org.admin.id),
    ]
    index = client.get("/admin/").get_data(as_text=True)
    assert "Gallringsregler</a>: 1 aktiva" in index and "Senaste körning: gallring" in index
    edit = post(client, f"/admin/gallring/{rule.id}", {**RULE_FORM, "months": "24"})
    assert edit.status_code == 302
    assert post(client, f"/admin/gallring/{rule.id}/avaktivera").status_code == 302
    db.session.expire_all()
    assert db.session.get(RetentionRule, rule.id).active is False


def test_only_admins_reach_the_gallring_pages(client, login, org):
    for user in (org.agent, org.handler_bygg, org.manager):
        login(user)
        assert client.get("/admin/gallring/").status_code in (403, 404)


def test_the_case_panel_sets_and_releases_a_hold(client, login, org):
    case = closed(org, 10)
    db.session.get(Case, case.id).department_id = org.bygg.id
    db.session.commit()
    url = f"/arenden/{case.id}"
    login(org.agent)
    assert "Bevara ärendet" not in client.get(url).get_data(as_text=True)
    assert post(client, f"{url}/gallring/bevarande", {"reason": "x"}).status_code == 403
    login(org.handler_miljo)
    assert post(client, f"{url}/gallring/bevarande", {"reason": "x"}).status_code == 404
    login(org.handler_bygg)
    assert "Bevara ärendet" in client.get(url).get_data(as_text=True)
    empty = post(client, f"{url}/gallring/bevarande", {"reason": ""}, follow_redirects=True)
    assert "Ange ett skäl" in empty.get_data(as_text=True)
    done = post(client, f"{url}/gallring/bevarande", {"reason": "Polisanmälan"})
    assert done.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Polisanmälan" in page and "Häv bevarandebeslutet" in page
    post(client, f"{url}/gallring/bevarande/hav", {"reason": "Nedlagd"})
    hold = db.session.scalars(sa.select(LegalHold)).one()
    assert hold.released_at is not None and hold.release_reason == "Nedlagd"


def test_every_gallring_admin_route_refuses_everyone_but_admins(client, login, org, app):
    """Each route this module adds to /admin, each method, for each non-admin role."""
    routes = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
        and app.view_functions[rule.endpoint].__module__
        == "kontaktcenter.compliance.retention_views"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    assert len(routes) == 10
    for user in (org.agent, org.handler_bygg, org.manager):
        login(user)
        for rule, method in routes:
            url = rule.build({name: 1 for name in rule.arguments})[1]
            if method == "GET":
                status = client.get(url).status_code
            else:
                status = post(client, url, {}).status_code
            assert status in (403, 404), (user.role, method, url, status)


def test_the_case_panel_shows_the_cases_own_retention_state(client, login, org):
    # The panel reads the active hold and the case's retention state in one statement.
    case = closed(org, 2000)
    retention_rule(org.bygglov, mode=RetentionMode.INACTUAL)
    db.session.get(Case, case.id).department_id = org.bygg.id
    db.session.commit()
    other = closed(org, 2001)
    login(org.handler_bygg)
    url = f"/arenden/{case.id}"
    assert "Gallras först när ärendet förklaras inaktuellt" in client.get(url).get_data(
        as_text=True
    )
    assert post(client, f"{url}/gallring/inaktuell", {}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Förklarat inaktuellt" in page and "Förklara ärendet inaktuellt</button>" not in page
    assert post(client, f"{url}/gallring/bevarande", {"reason": "Tvist"}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Förklarat inaktuellt" in page and "Tvist" in page
    # another case of the same type: neither its hold nor its state
    login(org.agent)
    page = client.get(f"/arenden/{other.id}").get_data(as_text=True)
    assert "Förklarat inaktuellt" not in page and "Tvist" not in page


def test_a_released_hold_no_longer_shows_as_active(client, login, org):
    case = closed(org, 30)
    db.session.get(Case, case.id).department_id = org.bygg.id
    db.session.commit()
    url = f"/arenden/{case.id}"
    login(org.handler_bygg)
    assert post(client, f"{url}/gallring/bevarande", {"reason": "Tvist"}).status_code == 302
    assert "Häv bevarandebeslutet" in client.get(url).get_data(as_text=True)
    assert post(client, f"{url}/gallring/bevarande/hav", {"reason": "Avgjord"}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Häv bevarandebeslutet" not in page and "Bevara ärendet (stoppa gallring)" in page

"""Administration of departments (förvaltningar) and case types (ärendetyper)."""

import pytest
import sqlalchemy as sa

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import services as admin
from kontaktcenter.organisation.models import CaseType, Department
from kontaktcenter.organisation.services import CaseTypeData, DepartmentData, slugify
from tests.factories import post


def _department(slug: str) -> Department | None:
    return db.session.scalars(sa.select(Department).where(Department.slug == slug)).first()


def _case_type(slug: str) -> CaseType | None:
    return db.session.scalars(sa.select(CaseType).where(CaseType.slug == slug)).first()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Barn- och utbildningsförvaltningen", "barn-och-utbildningsforvaltningen"),
        ("Kultur- och fritidsförvaltningen", "kultur-och-fritidsforvaltningen"),
        ("  Miljö & Hälsa  ", "miljo-halsa"),
        ("Ärenden om Åkermark", "arenden-om-akermark"),
        ("Café Élan", "cafe-elan"),
        ("x" * 80, "x" * 60),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_create_department_with_slug_from_name(client, org, login):
    login(org.admin)
    response = post(
        client,
        "/admin/forvaltningar/ny",
        {
            "name": "Socialförvaltningen",
            "slug": "",
            "contact_email": "Social@Kommun.example",
            "phone_hours": "Mån–fre 9–11",
            "active": "y",
        },
    )
    assert response.status_code == 302
    dept = _department("socialforvaltningen")
    assert dept is not None and dept.name == "Socialförvaltningen" and dept.active
    assert dept.contact_email == "social@kommun.example"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Förvaltningen Socialförvaltningen är skapad." in html
    assert "socialforvaltningen" in html


def test_duplicate_department_name_and_slug_are_clear_errors(client, org, login):
    login(org.admin)
    response = post(client, "/admin/forvaltningar/ny", {"name": "Ny förvaltning", "slug": "miljo"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Det finns redan en förvaltning med det kortnamnet." in html
    assert 'href="#slug"' in html  # the error summary links to the field
    response = post(client, "/admin/forvaltningar/ny", {"name": "Miljöförvaltningen"})
    assert response.status_code == 422
    assert "Det finns redan en förvaltning med det namnet." in response.get_data(as_text=True)
    response = post(client, "/admin/forvaltningar/ny", {"name": "Ny", "slug": "Inte OK!"})
    assert response.status_code == 422
    assert "Kortnamnet får bara innehålla a–z" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 2


def test_unique_violation_at_commit_becomes_a_message(org, monkeypatch):
    """Two admins saving at once: the check passes for both, the constraint stops the second."""
    monkeypatch.setattr(admin, "_ensure_free", lambda *args: None)
    with pytest.raises(ValidationError) as caught:
        admin.create_department(DepartmentData(name="Annan förvaltning", slug="miljo"))
    assert caught.value.field == "slug" and "kortnamnet" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        admin.create_case_type(CaseTypeData(name="Annat", slug="bygglov", department=org.miljo))
    assert caught.value.field == "slug"
    # The session is usable afterwards.
    assert admin.create_department(DepartmentData(name="Tekniska förvaltningen")).id


def test_edit_department_and_deactivate(client, org, login):
    login(org.admin)
    url = f"/admin/forvaltningar/{org.miljo.id}"
    assert 'value="Miljöförvaltningen"' in client.get(url).get_data(as_text=True)
    org.miljotillsyn.active = False
    db.session.commit()
    response = post(
        client,
        url,
        {"name": "Miljö- och hälsoskydd", "slug": "miljo", "phone_hours": "Tis 9–10"},
    )
    assert response.status_code == 302
    db.session.refresh(org.miljo)
    assert org.miljo.name == "Miljö- och hälsoskydd" and org.miljo.slug == "miljo"
    assert org.miljo.active is False and org.miljo.phone_hours == "Tis 9–10"
    assert org.miljo.contact_email is None


def test_department_with_active_case_types_cannot_be_deactivated(client, org, login):
    login(org.admin)
    response = post(
        client, f"/admin/forvaltningar/{org.bygg.id}", {"name": "Stadsbyggnadskontoret"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Förvaltningen har aktiva ärendetyper (Bygglov, Strandskydd)" in html
    db.session.refresh(org.bygg)
    assert org.bygg.active


def test_create_case_type(client, org, login):
    login(org.admin)
    form = client.get(f"/admin/arendetyper/ny?forvaltning={org.miljo.id}").get_data(as_text=True)
    assert f'<option selected value="{org.miljo.id}">' in form
    response = post(
        client,
        "/admin/arendetyper/ny",
        {
            "name": "Livsmedelskontroll",
            "slug": "",
            "department": str(org.miljo.id),
            "direct_number": " 08-465  004 21 ",
            "direct_number_answered_by": "Livsmedelsinspektör",
            "direct_number_hours": "Mån–fre 9.00–11.30",
            "guidance": "Fråga efter verksamhetens namn och adress.\nAnteckna datum.",
            "callback_promise_hours": "48",
            "active": "y",
        },
    )
    assert response.status_code == 302
    ct = _case_type("livsmedelskontroll")
    assert ct is not None and ct.department == org.miljo
    assert ct.direct_number == "08-465 004 21"  # as typed, whitespace tidied
    assert ct.callback_promise_hours == 48 and ct.active
    assert ct.guidance == "Fråga efter verksamhetens namn och adress.\nAnteckna datum."
    html = client.get("/admin/arendetyper/").get_data(as_text=True)
    assert "Livsmedelskontroll" in html and "08-465 004 21" in html and "48 h" in html
    # It is offered to agents at once.
    assert "Livsmedelskontroll (Miljöförvaltningen)" in client.get("/samtal/ny").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slug": "bygglov"}, "Det finns redan en ärendetyp med det kortnamnet."),
        (
            {"name": "miljötillsyn", "slug": "ny"},
            "Förvaltningen har redan en ärendetyp med det namnet.",
        ),
        ({"direct_number": "12"}, "Telefonnumret har fel antal siffror."),
        ({"direct_number": "ring växeln"}, "Telefonnumret kunde inte tolkas."),
        ({"callback_promise_hours": "0"}, "heltal mellan 1 och 720"),
        ({"callback_promise_hours": "721"}, "heltal mellan 1 och 720"),
        ({"callback_promise_hours": "ett dygn"}, "heltal mellan 1 och 720"),
        ({"department": ""}, "Välj förvaltning."),
        ({"department": "999999"}, "Välj ett av alternativen i listan."),
        ({"name": ""}, "Fyll i namn."),
    ],
)
def test_case_type_validation(client, org, login, change, message):
    login(org.admin)
    data = {
        "name": "Enskilda avlopp",
        "department": str(org.miljo.id),
        "direct_number": "08-465 004 22",
        "callback_promise_hours": "24",
        "active": "y",
    }
    data.update(change)
    response = post(client, "/admin/arendetyper/ny", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseType)) == 3


def test_edit_case_type_move_and_deactivate(client, org, login):
    login(org.admin)
    url = f"/admin/arendetyper/{org.strandskydd.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'value="Strandskydd"' in page and 'value="strandskydd"' in page
    response = post(
        client,
        url,
        {
            "name": "Strandskyddsdispens",
            "slug": "strandskydd",
            "department": str(org.miljo.id),
            "direct_number": "0771-25 25 25",
            "direct_number_answered_by": "Strandskyddshandläggare",
            "callback_promise_hours": "72",
        },
    )
    assert response.status_code == 302
    ct = db.session.get(CaseType, org.strandskydd.id)
    db.session.refresh(ct)
    assert ct.name == "Strandskyddsdispens" and ct.department_id == org.miljo.id
    assert ct.direct_number == "0771-25 25 25" and ct.callback_promise_hours == 72
    assert ct.active is False and ct.direct_number_hours is None
    assert "Ändringarna för Strandskyddsdispens är sparade." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert "Strandskyddsdispens" not in client.get("/samtal/ny").get_data(as_text=True)


def test_active_case_type_needs_an_active_department(client, org, login):
    login(org.admin)
    org.miljotillsyn.active = False
    org.miljo.active = False
    db.session.commit()
    response = post(
        client,
        f"/admin/arendetyper/{org.miljotillsyn.id}",
        {
            "name": "Miljötillsyn",
            "department": str(org.miljo.id),
            "callback_promise_hours": "24",
            "active": "y",
        },
    )
    assert response.status_code == 422
    assert "Förvaltningen är inte aktiv." in response.get_data(as_text=True)
    # The inactive department is still listed for the case type that already belongs to it.
    page = client.get(f"/admin/arendetyper/{org.miljotillsyn.id}").get_data(as_text=True)
    assert "Miljöförvaltningen (inaktiv)" in page
    assert "Miljöförvaltningen (inaktiv)" not in client.get("/admin/arendetyper/ny").get_data(
        as_text=True
    )


def test_index_counts_and_links(client, org, login):
    login(org.admin)
    html = client.get("/admin/").get_data(as_text=True)
    assert "5 aktiva av 5 användare" in html
    assert "2 aktiva av 2 förvaltningar" in html
    assert "3 aktiva av 3 ärendetyper" in html
    for href in ("/admin/anvandare/", "/admin/forvaltningar/", "/admin/arendetyper/"):
        assert f'href="{href}"' in html

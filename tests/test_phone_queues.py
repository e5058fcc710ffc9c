"""Administration → Telefoniköer: the phone platform's queues, what an abandoned call in one leads
to, and the queues the platform reported that nobody has configured yet."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kontaktcenter.channels.phone import call_events, queues
from kontaktcenter.channels.phone.call_events import EventData
from kontaktcenter.channels.phone.models import CallEventKind, PhoneQueue
from kontaktcenter.channels.phone.queues import QueueData
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from tests.factories import post

NON_ADMINS = ["agent", "handler_bygg", "manager"]


def _form(org, **overrides) -> dict:
    return {
        "name": "q_bygglov",
        "label": "Bygglov – servicenumret",
        "case_type": str(org.bygglov.id),
        "abandoned_callback": "y",
        "abandoned_min_wait_seconds": "15",
        "answer_goal_seconds": "60",
        "active": "y",
    } | overrides


def _queues() -> list[PhoneQueue]:
    return list(db.session.scalars(sa.select(PhoneQueue).order_by(PhoneQueue.id)))


def _reported(call_id: str, queue: str | None) -> None:
    call_events.record(EventData(call_id, CallEventKind.RINGING, queue=queue))


def test_an_admin_creates_a_queue_and_sees_it_listed(client, org, login):
    login(org.admin)
    response = post(client, "/admin/telefonikoer/ny", _form(org))
    assert response.status_code == 302
    (queue,) = _queues()
    assert (queue.name, queue.label, queue.case_type_id) == (
        "q_bygglov",
        "Bygglov – servicenumret",
        org.bygglov.id,
    )
    assert queue.abandoned_callback and queue.active
    assert (queue.abandoned_min_wait_seconds, queue.answer_goal_seconds) == (15, 60)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Kön Bygglov – servicenumret är skapad." in html
    assert "q_bygglov" in html and "efter minst 15 s i kö" in html


def test_the_admin_index_sums_up_the_queues(client, org, login):
    queues.create(QueueData("Bygglov", "Bygglov", abandoned_callback=True))
    queues.create(QueueData("Växeln", "Växeln", active=False))
    login(org.admin)
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Telefoniköer</a>: 1 aktiva av 2, 1 där avbrutna samtal blir återuppringningar" in html
    assert "Ringa upp via växeln: inte påslagen" in html


def test_an_admin_edits_a_queue(client, org, login):
    queue = queues.create(QueueData("Växeln", "Växeln"))
    login(org.admin)
    page = client.get(f"/admin/telefonikoer/{queue.id}").get_data(as_text=True)
    assert 'value="Växeln"' in page
    response = post(
        client,
        f"/admin/telefonikoer/{queue.id}",
        _form(org, name="Växeln", label="Kommunens växel", case_type="", active=""),
    )
    assert response.status_code == 302
    db.session.refresh(queue)
    assert (queue.label, queue.case_type_id, queue.active) == ("Kommunens växel", None, False)
    assert queue.abandoned_callback and queue.abandoned_min_wait_seconds == 15


def test_a_blank_label_is_the_platforms_name(org):
    queue = queues.create(QueueData("  Socialtjänst ", "  "))
    assert (queue.name, queue.label) == ("Socialtjänst", "Socialtjänst")


def test_a_queue_is_found_by_its_platform_name_while_active(org):
    queue = queues.create(QueueData("Bygglov", "Bygglov", abandoned_callback=True))
    assert queues.by_name("Bygglov") == queue
    assert queues.by_name("bygglov") is None and queues.by_name(None) is None
    queues.update(queue, QueueData("Bygglov", "Bygglov", active=False))
    assert queues.by_name("Bygglov") is None


def test_queue_names_are_unique(client, org, login):
    queues.create(QueueData("q_bygglov", "Bygglov"))
    login(org.admin)
    response = post(client, "/admin/telefonikoer/ny", _form(org))
    assert response.status_code == 422
    assert "Det finns redan en kö med det namnet." in response.get_data(as_text=True)
    assert len(_queues()) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Fyll i köns namn."),
        ("name", "x" * 101, "Högst 100 tecken."),
        ("label", "x" * 121, "Högst 120 tecken."),
        ("abandoned_min_wait_seconds", "-1", "mellan 0 och 3600"),
        ("abandoned_min_wait_seconds", "3601", "mellan 0 och 3600"),
        ("abandoned_min_wait_seconds", "tio", "mellan 0 och 3600"),
        ("abandoned_min_wait_seconds", "", "mellan 0 och 3600"),
        ("answer_goal_seconds", "0", "mellan 1 och 3600"),
        ("answer_goal_seconds", "99999999999999999999", "mellan 1 och 3600"),
        ("case_type", "999999", "Välj ett av alternativen i listan."),
        ("case_type", "abc", "Välj ett av alternativen i listan."),
    ],
)
def test_bad_input_gets_a_swedish_message_and_saves_nothing(
    client, org, login, field, value, message
):
    login(org.admin)
    response = post(client, "/admin/telefonikoer/ny", _form(org, **{field: value}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html
    assert _queues() == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (QueueData("", "x"), "name"),
        (QueueData("a\x00b", "x"), "name"),
        (QueueData("q", "x", abandoned_min_wait_seconds=None), "abandoned_min_wait_seconds"),
        (QueueData("q", "x", answer_goal_seconds=3601), "answer_goal_seconds"),
    ],
)
def test_the_service_validates_too(org, data, field):
    with pytest.raises(ValidationError) as error:
        queues.create(data)
    assert error.value.field == field


def test_an_inactive_case_type_cannot_be_chosen_but_is_kept(org):
    org.strandskydd.active = False
    db.session.commit()
    with pytest.raises(ValidationError) as error:
        queues.create(QueueData("q", "Strand", case_type=org.strandskydd))
    assert error.value.field == "case_type"
    queue = queues.create(QueueData("q", "Strand", case_type=org.bygglov))
    queue.case_type = org.strandskydd  # chosen while it was active
    db.session.commit()
    queues.update(queue, QueueData("q", "Strand igen", case_type=org.strandskydd))
    assert queue.case_type_id == org.strandskydd.id


def test_queues_the_platform_reported_are_suggested(client, org, login):
    _reported("c-1", "Bygglov")
    _reported("c-2", "Bygglov")
    _reported("c-3", "Socialtjänst")
    _reported("c-4", None)
    queues.create(QueueData("Socialtjänst", "Socialtjänst", active=False))
    assert queues.reported_unconfigured() == ["Bygglov"]
    login(org.admin)
    html = client.get("/admin/telefonikoer/").get_data(as_text=True)
    assert "Köer som plattformen rapporterat" in html
    assert "/admin/telefonikoer/ny?namn=Bygglov" in html
    form = client.get("/admin/telefonikoer/ny?namn=Bygglov").get_data(as_text=True)
    assert re.search(r'<input [^>]*name="name" [^>]*value="Bygglov"', form)


def test_a_suggestions_name_is_cut_to_the_longest_name(client, org, login):
    login(org.admin)
    response = client.get("/admin/telefonikoer/ny?namn=" + "x" * 500)
    assert response.status_code == 200
    field = re.search(r'<input [^>]*name="name" [^>]*value="(x*)"', response.get_data(as_text=True))
    assert field.group(1) == "x" * 100


def test_the_list_says_whether_dial_out_is_on(client, org, login, app, monkeypatch):
    login(org.admin)
    assert "inte påslagen" in client.get("/admin/telefonikoer/").get_data(as_text=True)
    monkeypatch.setitem(app.config, "DIAL_OUT_URL", "https://vaxel.kommun.example/ring")
    monkeypatch.setitem(app.config, "DIAL_OUT_SECRET", "x" * 32)
    html = client.get("/admin/telefonikoer/").get_data(as_text=True)
    assert "Uppringning via växeln är påslagen" in html


def test_an_unknown_queue_is_404(client, org, login):
    login(org.admin)
    assert client.get("/admin/telefonikoer/999999").status_code == 404
    assert client.get("/admin/telefonikoer/99999999999").status_code == 404


def _routes(queue_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin/telefonikoer/"),
        ("GET", "/admin/telefonikoer/ny"),
        ("POST", "/admin/telefonikoer/ny"),
        ("GET", f"/admin/telefonikoer/{queue_id}"),
        ("POST", f"/admin/telefonikoer/{queue_id}"),
    ]


def test_every_queue_page_is_covered(app):
    rules = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__
        == "kontaktcenter.channels.phone.queue_views"
    }
    assert rules == {
        "/admin/telefonikoer/",
        "/admin/telefonikoer/ny",
        "/admin/telefonikoer/<id:queue_id>",
    }


@pytest.mark.parametrize("role", NON_ADMINS)
def test_only_admins_reach_the_queues(client, org, login, role):
    queue = queues.create(QueueData("Växeln", "Växeln"))
    login(getattr(org, role))
    for method, path in _routes(queue.id):
        response = client.get(path) if method == "GET" else post(client, path, _form(org))
        assert response.status_code == 403, (role, method, path)
    db.session.refresh(queue)
    assert queue.label == "Växeln" and len(_queues()) == 1


def test_anonymous_is_sent_to_login(client, org):
    for method, path in _routes(1):
        response = client.get(path) if method == "GET" else post(client, path, _form(org))
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_post_without_csrf_token_is_refused(client, org, login):
    queue = queues.create(QueueData("Växeln", "Växeln"))
    login(org.admin)
    for path in ("/admin/telefonikoer/ny", f"/admin/telefonikoer/{queue.id}"):
        response = client.post(path, data=_form(org, name="Utan token"))
        assert response.status_code == 400, path
    db.session.refresh(queue)
    assert [q.name for q in _queues()] == ["Växeln"]

"""Administration of opening hours, closure and shortened days, and service goals."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kontaktcenter.calendar import services as calendar_settings
from kontaktcenter.calendar.business_calendar import Unit, Window
from kontaktcenter.calendar.models import CalendarException, OpeningWindow
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.goals import settings
from kontaktcenter.goals.models import GoalTarget, ServiceGoal
from tests.factories import make_case, post

STHLM = ZoneInfo("Europe/Stockholm")
MODULES = ("kontaktcenter.calendar.admin_views", "kontaktcenter.goals.admin_views")
NON_ADMINS = ["agent", "handler_bygg", "manager"]
WEEK = {f"day_{wd}": "08:00-17:00" for wd in range(5)} | {"day_5": "", "day_6": ""}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=STHLM)


@pytest.fixture
def today_is(monkeypatch):
    """Pin "today" for the admin pages (closure days may not be in the past)."""

    def pin(*args) -> None:
        monkeypatch.setattr(calendar_settings, "utcnow", lambda: local(*args))

    return pin


def _routes(exception_id: int, goal_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin/oppettider/"),
        ("POST", "/admin/oppettider/"),
        ("GET", "/admin/avvikande-dagar/"),
        ("POST", "/admin/avvikande-dagar/"),
        ("POST", f"/admin/avvikande-dagar/{exception_id}/ta-bort"),
        ("GET", "/admin/servicemal/"),
        ("GET", "/admin/servicemal/ny"),
        ("POST", "/admin/servicemal/ny"),
        ("GET", f"/admin/servicemal/{goal_id}"),
        ("POST", f"/admin/servicemal/{goal_id}"),
    ]


def _covered(app, routes: list[tuple[str, str]], modules: tuple[str, ...]) -> None:
    """Every route of `modules` is in `routes`: a new route without an access test fails here."""
    adapter = app.url_map.bind("localhost")
    listed = {(adapter.match(path, method)[0], method) for method, path in routes}
    registered = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
        and app.view_functions[rule.endpoint].__module__ in modules
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert listed == registered


@pytest.fixture
def rows(org):
    exception = CalendarException(day=local(2030, 1, 2).date(), windows=[], reason="Personaldag")
    goal = ServiceGoal(target=GoalTarget.RESOLUTION, amount=10, unit=Unit.WORKING_DAYS)
    db.session.add_all([exception, goal])
    db.session.commit()
    return exception, goal


def test_every_route_is_covered_and_admin_views_live_in_known_modules(app, rows):
    _covered(app, _routes(rows[0].id, rows[1].id), MODULES)
    modules = {
        app.view_functions[rule.endpoint].__module__
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
    }
    # Each module has its own access test: organisation and the index in test_admin_access,
    # mail in test_admin_mail, calendar and goals here, and the compliance pages in
    # test_retention_views, test_extract_pages, test_diarium_admin and test_audit_log_pages.
    assert modules == {
        "kontaktcenter.core.admin",
        "kontaktcenter.organisation.admin_views",
        *MODULES,
        "kontaktcenter.channels.email.admin_views",
        "kontaktcenter.compliance.retention_views",
        "kontaktcenter.compliance.extract_views",
        "kontaktcenter.compliance.diarium_views",
        "kontaktcenter.compliance.audit_views",
        "kontaktcenter.channels.phone.queue_views",
        "kontaktcenter.callbacks.admin_views",
        "kontaktcenter.distribution.admin_views",
    }


@pytest.mark.parametrize("role", NON_ADMINS)
def test_non_admins_get_403_everywhere(client, org, rows, login, role):
    login(getattr(org, role))
    data = WEEK | {"day": "2030-01-03", "kind": "closed", "reason": "Hack"}
    data |= {"target": "resolution", "amount": "5", "unit": "working_days", "at_risk_percent": "20"}
    for method, path in _routes(rows[0].id, rows[1].id):
        response = client.get(path) if method == "GET" else post(client, path, data)
        assert response.status_code == 403, (role, method, path)
        assert "Åtkomst nekad" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OpeningWindow)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarException)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceGoal)) == 1
    assert rows[1].amount == 10


def test_anonymous_is_sent_to_login_and_posts_need_csrf(client, org, rows, login):
    routes = _routes(rows[0].id, rows[1].id)
    for method, path in routes:
        response = client.get(path) if method == "GET" else post(client, path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    login(org.admin)
    for path in [path for method, path in routes if method == "POST"]:
        response = client.post(path, data=WEEK)
        assert response.status_code == 400, path
        assert "säkerhetstoken" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OpeningWindow)) == 0


# --- opening hours -------------------------------------------------------------------------------


def test_admin_index_links_to_the_new_pages(client, org, login):
    login(org.admin)
    html = client.get("/admin/").get_data(as_text=True)
    for path in ("/admin/oppettider/", "/admin/avvikande-dagar/", "/admin/servicemal/"):
        assert f'href="{path}"' in html
    assert "standard: mån–fre 08:00–17:00" in html


def test_opening_hours_show_the_default_until_saved(client, org, login):
    login(org.admin)
    html = client.get("/admin/oppettider/").get_data(as_text=True)
    assert "Inga öppettider är sparade ännu" in html
    assert 'name="day_0" type="text" value="08:00-17:00"' in html
    assert 'name="day_5" type="text" value=""' in html
    assert "<legend>Öppettider per veckodag</legend>" in html


def test_saving_opening_hours_changes_new_cases_due_times(client, org, login):
    login(org.admin)
    hours = WEEK | {"day_0": "13:00-15:00, 09:00-12:00", "day_1": "09:00-12:00, 13:00-15:00"}
    hours |= {"day_2": "09:00–12:00", "day_3": "9.00-12.00", "day_4": "09:00-12:00"}
    response = post(client, "/admin/oppettider/", hours)
    assert response.status_code == 302
    assert "Öppettiderna är sparade." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    texts, configured = calendar_settings.weekly_hours()
    assert configured and texts[0] == "09:00-12:00, 13:00-15:00" and texts[5] == ""
    calendar = calendar_settings.load_calendar()  # the cached calendar was forgotten
    assert calendar.windows_on(local(2026, 11, 16).date()) == (
        Window(time(9), time(12)),
        Window(time(13), time(15)),
    )
    assert not calendar.is_working_day(local(2026, 11, 21).date())  # Saturday: closed
    case = make_case(
        org.agent, None, outcome=None, channel=Channel.EMAIL, received_at=local(2026, 11, 16, 10)
    )
    first = next(g for g in case.goals if g.target == GoalTarget.FIRST_RESPONSE)
    assert first.due_at == local(2026, 11, 18, 12, 0)  # Wednesday closes at 12 now, not 17
    assert case.due_at == first.due_at
    # Saving again replaces the rows instead of adding to them.
    assert post(client, "/admin/oppettider/", WEEK).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OpeningWindow)) == 5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("day_0", "08:00-12:00, 11:00-13:00", "Måndag: 08:00-12:00 och 11:00-13:00 överlappar"),
        ("day_1", "8-17", "Tisdag: ”8-17” är inte en tid."),
        ("day_2", "08:00-25:00", "är inte en tid på dygnet"),
        ("day_3", "17:00-08:00", "Torsdag: ”17:00-08:00” slutar innan den börjar."),
        ("day_6", "10:00-14:00", "Söndag är en allmän helgdag"),
    ],
)
def test_invalid_opening_hours_are_refused_with_a_message(
    client, org, login, field, value, message
):
    login(org.admin)
    response = post(client, "/admin/oppettider/", WEEK | {field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert f'href="#{field}"' in html and 'aria-invalid="true"' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OpeningWindow)) == 0


def test_a_week_without_opening_hours_is_refused(org):
    with pytest.raises(ValidationError, match="minst en veckodag"):
        calendar_settings.save_opening_hours(dict.fromkeys(range(7), ""))


def test_two_admins_saving_at_once_cannot_double_the_hours(org):
    def other_admin(session, context) -> None:  # their rows, committed while ours were written
        session.execute(sa.insert(OpeningWindow).values(weekday=0, start=time(8), end=time(17)))

    sa.event.listen(db.session(), "after_flush", other_admin, once=True)
    with pytest.raises(ValidationError, match="Någon annan sparade öppettiderna samtidigt"):
        calendar_settings.save_opening_hours({0: "09:00-12:00"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OpeningWindow)) == 0


# --- closure and shortened days --------------------------------------------------------------


def _email_case(org, *received):
    case = make_case(
        org.agent, None, outcome=None, channel=Channel.EMAIL, received_at=local(*received)
    )
    return next(g for g in case.goals if g.target == GoalTarget.FIRST_RESPONSE)


def test_closure_day_makes_due_times_skip_it(client, org, login, today_is):
    today_is(2026, 11, 10, 9, 0)
    login(org.admin)
    response = post(
        client,
        "/admin/avvikande-dagar/",
        {"day": "2026-11-17", "kind": "closed", "windows": "", "reason": "Kompetensdag"},
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2026-11-17 är stängt (Kompetensdag)." in html
    assert "tis 2026-11-17" in html and "Stängt hela dagen" in html
    # Received Monday: day 0; Tuesday is closed, so the second working day is Thursday.
    assert _email_case(org, 2026, 11, 16, 9, 0).due_at == local(2026, 11, 19, 17, 0)


def test_shortened_day_ends_the_goal_at_its_own_closing_time(client, org, login, today_is):
    today_is(2026, 11, 10, 9, 0)
    login(org.admin)
    data = {"day": "2026-11-18", "kind": "hours", "windows": "08:00-12:00", "reason": "Halvdag"}
    assert post(client, "/admin/avvikande-dagar/", data).status_code == 302
    assert _email_case(org, 2026, 11, 16, 9, 0).due_at == local(2026, 11, 18, 12, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"day": "2026-11-09"}, "Välj ett datum från och med i dag."),
        ({"day": "17/11"}, "Ange datum som ÅÅÅÅ-MM-DD"),
        ({"day": ""}, "Ange datum som ÅÅÅÅ-MM-DD"),
        ({"day": "2026-11-20"}, "Det finns redan en avvikande dag 2026-11-20."),
        ({"kind": "hours", "windows": ""}, "Ange öppettiderna för dagen"),
        ({"kind": "hours", "windows": "08:00-12:00, 11:00-14:00"}, "överlappar"),
        ({"reason": ""}, "Ange anledning"),
    ],
)
def test_invalid_closure_days_are_refused(client, org, login, today_is, data, message):
    today_is(2026, 11, 10, 9, 0)
    db.session.add(CalendarException(day=local(2026, 11, 20).date(), windows=[], reason="Annan"))
    db.session.commit()
    login(org.admin)
    form = {"day": "2026-11-24", "kind": "closed", "windows": "", "reason": "Kompetensdag"} | data
    response = post(client, "/admin/avvikande-dagar/", form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarException)) == 1


def test_closure_days_can_be_deleted_but_not_after_they_passed(client, org, login, today_is):
    today_is(2026, 11, 10, 9, 0)
    coming = CalendarException(day=local(2026, 11, 27).date(), windows=[], reason="Klämdag")
    passed = CalendarException(day=local(2026, 11, 2).date(), windows=[], reason="Förr")
    db.session.add_all([coming, passed])
    db.session.commit()
    assert not calendar_settings.load_calendar().is_working_day(coming.day)
    login(org.admin)
    html = client.get("/admin/avvikande-dagar/").get_data(as_text=True)
    assert "Klämdag" in html and "Förr" not in html  # only upcoming days are listed
    response = post(client, f"/admin/avvikande-dagar/{coming.id}/ta-bort")
    assert response.status_code == 302
    assert db.session.get(CalendarException, coming.id) is None
    assert calendar_settings.load_calendar().is_working_day(local(2026, 11, 27).date())
    response = post(client, f"/admin/avvikande-dagar/{passed.id}/ta-bort", follow_redirects=True)
    assert "Dagar som har passerat tas inte bort" in response.get_data(as_text=True)
    assert db.session.get(CalendarException, passed.id) is not None


def test_the_red_days_of_the_next_60_days_are_listed(client, org, login, today_is):
    today_is(2026, 12, 1, 9, 0)
    login(org.admin)
    html = client.get("/admin/avvikande-dagar/").get_data(as_text=True)
    for text in ("tor 2026-12-24", "Julafton", "Juldagen", "Nyårsafton", "Trettondedag jul"):
        assert text in html
    assert "Röda dagar de närmaste 60 dagarna" in html


# --- service goals -------------------------------------------------------------------------------


def _goal_form(**changes) -> dict[str, str]:
    form = {
        "target": "first_response",
        "channel": "email",
        "case_type": "",
        "amount": "2",
        "unit": "working_days",
        "at_risk_percent": "25",
        "active": "y",
    }
    return form | changes


def test_create_and_list_service_goals(client, org, login):
    login(org.admin)
    response = post(client, "/admin/servicemal/ny", _goal_form())
    assert response.status_code == 302
    goal = db.session.scalars(sa.select(ServiceGoal)).one()
    assert (goal.target, goal.channel, goal.case_type, goal.amount) == (
        GoalTarget.FIRST_RESPONSE,
        Channel.EMAIL,
        None,
        2,
    )
    assert goal.unit == Unit.WORKING_DAYS and goal.at_risk_percent == 25 and goal.active
    bygglov = _goal_form(
        target="resolution",
        channel="",
        case_type=str(org.bygglov.id),
        amount="20",
        at_risk_percent="20",
    )
    assert post(client, "/admin/servicemal/ny", bygglov).status_code == 302
    html = client.get("/admin/servicemal/").get_data(as_text=True)
    assert "inom 2 arbetsdagar" in html and "inom 20 arbetsdagar" in html
    assert "Ändringar gäller nya ärenden." in html
    assert "<td>Bygglov</td>" in html and "<td>E-post</td>" in html and "<td>Alla</td>" in html
    # New cases carry the goals: a bygglov case gets 20 working days to its resolution.
    case = make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED)
    resolution = next(g for g in case.goals if g.target == GoalTarget.RESOLUTION)
    assert resolution.definition["amount"] == 20


def test_a_second_active_goal_for_the_same_thing_is_refused(client, org, login):
    login(org.admin)
    assert post(client, "/admin/servicemal/ny", _goal_form()).status_code == 302
    response = post(client, "/admin/servicemal/ny", _goal_form(amount="3"))
    assert response.status_code == 422
    assert "Det finns redan ett aktivt servicemål för första svar (e-post, alla ärendetyper)" in (
        response.get_data(as_text=True)
    )
    # Inactive, it may exist; switching it on is refused again.
    assert (
        post(client, "/admin/servicemal/ny", _goal_form(amount="3", active="")).status_code == 302
    )
    inactive = db.session.scalars(sa.select(ServiceGoal).where(ServiceGoal.amount == 3)).one()
    response = post(client, f"/admin/servicemal/{inactive.id}", _goal_form(amount="3"))
    assert response.status_code == 422 and not inactive.active
    # Other channels, case types and targets are different goals.
    for other in (_goal_form(channel="web"), _goal_form(case_type=str(org.bygglov.id))):
        assert post(client, "/admin/servicemal/ny", other).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceGoal)) == 4


def test_goals_are_edited_and_deactivated_not_deleted(client, org, login):
    login(org.admin)
    post(client, "/admin/servicemal/ny", _goal_form())
    goal = db.session.scalars(sa.select(ServiceGoal)).one()
    html = client.get(f"/admin/servicemal/{goal.id}").get_data(as_text=True)
    assert 'value="2"' in html and "Ändringar gäller nya ärenden." in html
    changed = _goal_form(amount="16", unit="opening_hours", active="")
    assert post(client, f"/admin/servicemal/{goal.id}", changed).status_code == 302
    db.session.refresh(goal)
    assert goal.amount == 16 and goal.unit == Unit.OPENING_HOURS and not goal.active
    assert "Inaktiv" in client.get("/admin/servicemal/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "366"}, "Ange antal arbetsdagar som ett heltal mellan 1 och 365."),
        ({"amount": "2001", "unit": "calendar_hours"}, "Ange antal som ett heltal, 1–2000."),
        ({"amount": "0", "unit": "opening_hours"}, "Ange antal som ett heltal, 1–2000."),
        ({"amount": "två"}, "Ange antal som ett heltal, 1–2000."),
        ({"at_risk_percent": "95"}, "Ange ett heltal mellan 1 och 90."),
        ({"unit": "weeks"}, "Välj ett av alternativen i listan."),
        ({"case_type": "99999"}, "Välj ett av alternativen i listan."),
    ],
)
def test_invalid_goals_are_refused(client, org, login, changes, message):
    login(org.admin)
    response = post(client, "/admin/servicemal/ny", _goal_form(**changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceGoal)) == 0


def test_hour_goals_allow_up_to_2000_hours(org):
    goal = settings.create_goal(
        settings.GoalData(GoalTarget.SECOND_LINE, amount=2000, unit=Unit.WORKING_DAY_HOURS)
    )
    assert goal.description == "inom 2000 timmar på vardagar"
    with pytest.raises(ValidationError, match="mellan 1 och 2000"):
        settings.update_goal(
            goal,
            settings.GoalData(GoalTarget.SECOND_LINE, amount=2001, unit=Unit.OPENING_HOURS),
        )

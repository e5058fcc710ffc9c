"""The service report on a small fixed data set, every expected number computed by hand.

The e-mails arrive around midsommar 2026: midsommarafton is Friday 19 June (not a working day),
so a message on Thursday evening has until Monday's closing for "1 working day" and Tuesday's
for "2 working days". The calendar is the default one: Monday–Friday 08:00–17:00.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import Channel, Outcome, TransferKind
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from kontaktcenter.reports import hooks
from kontaktcenter.reports.models import ResponseTime
from kontaktcenter.reports.periods import Period, ReportFilters, preset
from kontaktcenter.reports.report import api_json, service_report
from kontaktcenter.reports.service import answer_deadlines, email_measures
from tests.api_client import api_as
from tests.factories import make_case

TZ = ZoneInfo("Europe/Stockholm")
PERIOD = Period(datetime(2026, 6, 15).date(), datetime(2026, 6, 28).date())
QUERY = "period=custom&from=2026-06-15&to=2026-06-28"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def _email(org, received: datetime, answered: datetime | None, **kwargs) -> Case:
    case = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, received_at=received)
    if answered is not None:
        case.first_response_at = answered
    for name, value in kwargs.items():
        setattr(case, name, value)
    db.session.commit()
    return case


@pytest.fixture
def data(org):
    cases = {
        # Thursday evening before midsommarafton: 1 wd = Mon 22 17:00, 2 wd = Tue 23 17:00.
        "e1": _email(org, local(2026, 6, 18, 20, 0), local(2026, 6, 22, 16, 0)),
        # Monday morning, answered Wednesday 09:00: late for 1 wd (Tue 17:00), in time for 2.
        "e2": _email(org, local(2026, 6, 22, 9, 0), local(2026, 6, 24, 9, 0)),
        # Tuesday, never answered: both deadlines (Wed, Thu) have long passed.
        "e3": _email(org, local(2026, 6, 23, 10, 0), None),
        # On midsommarafton itself, answered at Monday's closing time exactly: in time.
        "e4": _email(org, local(2026, 6, 19, 11, 0), local(2026, 6, 22, 17, 0)),
        # Outside the period (the Sunday before): not counted.
        "outside": _email(org, local(2026, 6, 14, 12, 0), local(2026, 6, 14, 13, 0)),
    }
    monday = local(2026, 6, 22, 10, 0)
    for name, outcome, extra in (
        ("p1", Outcome.ANSWERED, {}),
        ("p2", Outcome.ANSWERED, {}),
        ("p3", Outcome.HANDED_OFF, {"transfer": TransferKind.WARM, "handed_to": "Bygglov"}),
        ("p4", Outcome.ROUTED, {}),
        ("p5", Outcome.CALLBACK, {"callback_note": "Efter lunch"}),
        ("p6", Outcome.REFERRED, {"referred_to": "Skatteverket"}),
    ):
        case_type = None if outcome == Outcome.REFERRED else org.bygglov
        cases[name] = make_case(org.agent, case_type, outcome=outcome, received_at=monday, **extra)
    p5 = cases["p5"]
    assert p5.callback_due_at is not None
    p5.callback_done_at = p5.callback_due_at - timedelta(hours=1)
    db.session.commit()
    hooks.backfill()
    return cases


def test_answer_deadlines_follow_the_working_days_of_the_arrival_date(db_session):
    rows = answer_deadlines(PERIOD)
    assert len(rows) == 14 * 24  # one per UTC hour of the fortnight (no DST change in June)
    days = {
        datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(TZ).date(): (d1, d2)
        for hour, d1, d2 in rows
    }
    # The local day begins at 22:00 UTC in summer: that hour already has Thursday's deadlines.
    assert (
        dict((h, (d1, d2)) for h, d1, d2 in rows)["2026-06-17 22"]
        == days[datetime(2026, 6, 18).date()]
    )
    thursday = days[datetime(2026, 6, 18).date()]
    assert thursday == (local(2026, 6, 22, 17, 0), local(2026, 6, 23, 17, 0))
    assert days[datetime(2026, 6, 19).date()] == thursday  # midsommarafton: as Thursday
    by_day = {key: (d1, d2) for key, d1, d2 in answer_deadlines(PERIOD, per_hour=False)}
    assert len(by_day) == 14 and by_day["2026-06-18"] == thursday  # PostgreSQL's keys
    assert all(by_day[day.isoformat()] == due for day, due in days.items())
    assert days[datetime(2026, 6, 20).date()] == thursday  # midsommardagen
    assert days[datetime(2026, 6, 22).date()] == (
        local(2026, 6, 23, 17, 0),
        local(2026, 6, 24, 17, 0),
    )


def test_email_measures(data):
    email = email_measures(ReportFilters(period=PERIOD))
    assert email.received == 4
    assert email.answered_within_1_working_day == 2  # e1, e4
    assert email.answered_within_2_working_days == 3  # e1, e2, e4
    assert (email.still_within_1, email.still_within_2) == (0, 0)
    assert email.share_within_1 == 50.0
    assert email.share_within_2 == 75.0
    # Opening hours: e1 Mon 08–16 = 480; e2 Mon 09–17 + Tue 08–17 + Wed 08–09 = 1080;
    # e4 from Monday's opening to its closing = 540. Mean 700, median 540.
    assert email.mean_office_minutes == 700.0
    assert email.median_office_minutes == 540.0
    # Calendar: e1 Thu 20:00 → Mon 16:00 = 92 h; e2 48 h; e4 Fri 11:00 → Mon 17:00 = 78 h.
    assert email.mean_calendar_minutes == (5520 + 2880 + 4680) / 3
    assert email.median_calendar_minutes == 4680.0


def test_an_unanswered_message_whose_time_has_not_run_out_is_not_counted(org, monkeypatch):
    _email(org, local(2026, 6, 23, 10, 0), None)
    monkeypatch.setattr("kontaktcenter.reports.service.utcnow", lambda: local(2026, 6, 24, 12, 0))
    email = email_measures(ReportFilters(period=PERIOD))
    # 1 wd (Wed 17:00) not passed yet at Wed 12:00: neither in time nor late.
    assert (email.received, email.still_within_1, email.still_within_2) == (1, 1, 1)
    assert email.share_within_1 is None and email.share_within_2 is None


def test_response_times_are_recorded_when_the_answer_is_given(org):
    case = make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED)
    row = db.session.get(ResponseTime, case.id)
    assert row is not None and row.calendar_minutes == 0


def test_phone_callbacks_and_resolution(data):
    report = service_report(ReportFilters(period=PERIOD))
    phone = report.phone
    assert phone.contacts == 6
    assert phone.outcomes[Outcome.ANSWERED] == 2 and phone.outcomes[Outcome.REFERRED] == 1
    assert phone.direct_answer_share == 33.3
    assert (report.callbacks.booked, report.callbacks.done_within_goal) == (1, 1)
    assert report.callbacks.share_within_goal == 100.0
    total = report.resolution[0]
    # 10 contacts in the period (4 e-mails, 6 calls); resolved: 2 answered + 1 referred.
    assert (total.contacts, total.resolved, total.rate) == (10, 3, 30.0)
    by_type = {row.name: (row.contacts, row.resolved) for row in report.resolution[1:]}
    assert by_type == {"Ingen ärendetyp": (5, 1), "Bygglov": (5, 2)}
    # The period before (1–14 June) holds only the Sunday e-mail, answered within the hour.
    assert report.previous_email.received == 1 and report.previous_email.share_within_1 == 100.0
    assert report.previous_resolution.contacts == 1 and report.previous_resolution.rate == 0.0


def test_filters_narrow_every_measure(data, org):
    phone_only = service_report(ReportFilters(period=PERIOD, channel=Channel.PHONE))
    assert phone_only.email.received == 0 and phone_only.resolution[0].contacts == 6
    bygg = service_report(ReportFilters(period=PERIOD, department_id=org.bygg.id))
    # Handed off (p3), routed (p4) and the callback (p5, booked for Bygglov's handlers) carry
    # the department; the answered and referred calls and the e-mails stay with the first line.
    assert {data[n].department_id for n in ("p3", "p4", "p5")} == {org.bygg.id}
    assert bygg.resolution[0].contacts == 3
    assert bygg.phone.outcomes[Outcome.ANSWERED] == 0 and bygg.email.received == 0


def test_the_page_the_files_and_the_api_show_the_same_numbers(data, org, login, client, app):
    login(org.manager)
    page = client.get(f"/rapporter/?{QUERY}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "50,0 %" in html and "75,0 %" in html and "33,3 %" in html and "30,0 %" in html
    assert "Så räknas svar inom arbetsdagar" in html and "midsommar" in html
    expected = api_json(service_report(ReportFilters(period=PERIOD)))

    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/rapporter/?{QUERY}&format=csv")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    values = {f"{r[2]}.{r[3]}": r[4] for r in rows[1:]}
    assert values["email.received"] == "4"
    assert values["email.answered_within_1_working_day_share"] == "50.0"
    assert values["phone.outcomes.answered"] == "2"

    answer = client.get(f"/rapporter/?{QUERY}&format=xlsx")
    assert answer.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(answer.data)).active
    cells = {f"{r[0]}.{r[1]}": r[2] for r in sheet.iter_rows(min_row=7, values_only=True)}
    assert cells["email.received"] == 4
    assert cells["email.answered_within_2_working_days_share"] == pytest.approx(0.75)
    assert sheet["B2"].value == datetime(2026, 6, 15)  # a real date cell

    api = api_as(client, org.manager)
    body = api.get("/api/v1/reports/service?from=2026-06-15&to=2026-06-28").get_json()
    assert body == expected
    assert body["email"]["answered_within_1_working_day"] == 2
    assert body["phone"]["outcomes"]["answered"] == 2
    assert body["callbacks"]["done_within_goal"] == 1
    api_csv = api.get("/api/v1/reports/service?from=2026-06-15&to=2026-06-28&format=csv")
    assert api_csv.data == client.get(f"/rapporter/?{QUERY}&format=csv").data


def test_a_handler_sees_only_their_departments_figures(data, org, login, client):
    login(org.handler_miljo)
    html = client.get(f"/rapporter/?{QUERY}").get_data(as_text=True)
    assert "Du ser siffror för dina förvaltningar" in html
    mine = service_report(
        ReportFilters(period=PERIOD, scope=frozenset(org.handler_miljo.department_ids))
    )
    assert mine.resolution[0].contacts == 0  # nothing in the period was routed to Miljö
    foreign = client.get(f"/rapporter/?{QUERY}&department={org.bygg.id}")
    assert foreign.status_code == 400
    assert "din egen förvaltning" in foreign.get_data(as_text=True)
    api = api_as(client, org.handler_miljo)
    body = api.get("/api/v1/reports/service?from=2026-06-15&to=2026-06-28").get_json()
    assert body["resolution"]["contacts"] == 0 and body["phone"]["contacts"] == 0


@pytest.mark.parametrize("role", ["agent"])
def test_agents_have_no_reports(org, login, client, role):
    login(org.agent)
    assert client.get("/rapporter/").status_code == 403
    api = api_as(client, org.agent)
    assert api.get("/api/v1/reports/service?from=2026-06-15&to=2026-06-28").status_code == 403


@pytest.mark.parametrize(
    "query, field",
    [
        ("period=custom&from=2026-13-01&to=2026-12-31", "from"),
        ("period=custom&from=2026-06-10&to=2026-06-01", "to"),
        ("period=custom&from=2020-01-01&to=2026-01-01", "to"),
        ("period=decade", "period"),
        ("channel=fax", "channel"),
        ("case_type=99999999999", "case_type"),
    ],
)
def test_bad_filters_get_a_clear_message_not_an_error_page(org, login, client, query, field):
    login(org.manager)
    answer = client.get(f"/rapporter/?{query}")
    assert answer.status_code == 400
    assert 'role="alert"' in answer.get_data(as_text=True)


def test_periods():
    wednesday = datetime(2026, 12, 2).date()
    assert preset("this_week", wednesday) == Period(
        datetime(2026, 11, 30).date(), datetime(2026, 12, 6).date()
    )
    assert preset("last_month", wednesday) == Period(
        datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date()
    )
    assert preset("this_month", wednesday).last == datetime(2026, 12, 31).date()
    assert PERIOD.previous() == Period(datetime(2026, 6, 1).date(), datetime(2026, 6, 14).date())
    # Local midnight across DST: the period's end is 23:00 UTC in winter, 22:00 in summer.
    assert PERIOD.end == local(2026, 6, 29, 0, 0)


def test_volumes_place_contacts_on_local_days_and_hours(data, org, login, client):
    login(org.manager)
    html = client.get(f"/rapporter/?{QUERY}").get_data(as_text=True)
    assert "Kontakter per veckodag och timme" in html
    from kontaktcenter.reports.volumes import volumes

    v = volumes(ReportFilters(period=PERIOD))
    assert v.heatmap[0][10] == 6  # the six calls, Monday 10:00 local
    assert v.heatmap[3][20] == 1  # e1, Thursday 20:00 local (18:00 UTC)
    assert v.total(Channel.EMAIL) == 4 and v.total() == 10
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 11


def test_the_volume_chart_is_an_accessible_svg_with_the_tables_numbers(data, org, login, client):
    login(org.manager)
    html = client.get(f"/rapporter/?{QUERY}").get_data(as_text=True)
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "Kontakter per dag" in svg
    assert "06-22: 7</title>" in svg  # Monday 22 June: six calls and e2
    assert "<script" not in html.lower()


def test_the_daily_contact_list_for_skrs_survey(data, org, login, client):
    from kontaktcenter.core.audit import AuditEvent

    login(org.manager)
    answer = client.get("/rapporter/kontaktlista?datum=2026-06-22")
    assert answer.status_code == 200
    assert (
        answer.headers["Content-Disposition"]
        == 'attachment; filename="kontaktlista-2026-06-22.csv"'
    )
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["datum", "kanal", "telefon", "e-post", "ärendetyp"]
    # Seven contacts on 22 June (six calls, e2) from one caller: listed once, the first contact.
    assert rows[1:] == [["2026-06-22", "E-post", "+46701234567", "", ""]]
    logged = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "export_contact_list")
    ).one()
    assert logged.user_id == org.manager.id and logged.detail == {"day": "2026-06-22", "rows": 1}
    assert client.get("/rapporter/kontaktlista?datum=22/6").status_code == 400


def test_handlers_cannot_export_the_contact_list(org, login, client):
    login(org.handler_bygg)
    assert client.get("/rapporter/kontaktlista?datum=2026-06-22").status_code == 403


def test_figures_per_agent_only_when_switched_on_and_only_for_managers(
    data, org, app, login, client
):
    login(org.manager)
    assert "Per kommunvägledare" not in client.get(f"/rapporter/?{QUERY}").get_data(as_text=True)
    app.config["REPORTS_PER_AGENT"] = True
    try:
        html = client.get(f"/rapporter/?{QUERY}").get_data(as_text=True)
        assert "Per kommunvägledare" in html
        # org.agent logged the period's ten contacts; 2 of the 10 were answered directly.
        row = f'<th scope="row">{org.agent.name}</th><td>10</td><td>20,0 % (2)</td>'
        assert row + "<td>1</td><td>1</td><td>1</td><td>1</td>" in html
        login(org.handler_bygg)
        assert "Per kommunvägledare" not in client.get(f"/rapporter/?{QUERY}").get_data(
            as_text=True
        )
    finally:
        app.config["REPORTS_PER_AGENT"] = False


def test_second_line_per_department(data, org):
    from kontaktcenter.goals.models import CaseGoal, GoalTarget
    from kontaktcenter.reports.compliance import second_line

    routed = data["p4"]
    started = routed.received_at
    db.session.add(  # "the department takes the case within 1 working day", met after 2 h
        CaseGoal(
            case_id=routed.id,
            target=GoalTarget.SECOND_LINE,
            definition={"amount": 1, "unit": "working_days", "at_risk_percent": 20},
            started_at=started,
            due_at=started + timedelta(days=1),
            at_risk_at=started + timedelta(hours=20),
            met_at=started + timedelta(hours=2),
            business_minutes=120,
            calendar_minutes=120,
        )
    )
    db.session.commit()
    (bygg,) = second_line(ReportFilters(period=PERIOD))
    assert bygg.department == "Stadsbyggnadskontoret"
    # p3 (handed off), p4 (routed) and p5 (callback) are with the department; only the routed
    # case has a second-line goal, met in time after two hours.
    assert (bygg.routed, bygg.in_time, bygg.late_or_missed, bygg.mean_minutes) == (3, 1, 0, 120.0)
    assert bygg.rate == 100.0 and bygg.forwarded_more_than_once == 0


def test_response_times_kept_by_the_events_agree_with_a_recount(org):
    """The stored first-response times (written in the answer's transaction) are what a recount
    from the cases gives."""
    from kontaktcenter.cases import actions
    from kontaktcenter.cases.enums import CallbackResult

    answered = make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED)
    callback = make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK, callback_note="Ring")
    actions.record_callback_attempt(callback, org.agent, CallbackResult.REACHED, "Klart")
    kept = {
        row.case_id: (row.office_minutes, row.calendar_minutes)
        for row in db.session.scalars(sa.select(ResponseTime))
    }
    assert set(kept) == {answered.id, callback.id}
    db.session.execute(sa.delete(ResponseTime))
    db.session.commit()
    assert hooks.backfill() == 2
    recount = {
        row.case_id: (row.office_minutes, row.calendar_minutes)
        for row in db.session.scalars(sa.select(ResponseTime))
    }
    assert recount == kept


def test_goal_compliance_per_target_and_per_group(org):
    from kontaktcenter.goals.models import CaseGoal, GoalTarget
    from kontaktcenter.reports.compliance import compliance_all

    period = Period(datetime(2026, 3, 2).date(), datetime(2026, 3, 8).date())
    received = local(2026, 3, 2, 9, 0)
    phone = make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED, received_at=received)
    mail = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, received_at=received)
    db.session.execute(sa.delete(CaseGoal))  # only the goals below, whatever the defaults are
    hour = timedelta(hours=1)
    for case, met, due in (
        (phone, received + hour, received + 2 * hour),  # in time
        (phone, received + 3 * hour, received + 2 * hour),  # late
        (mail, None, received + 2 * hour),  # passed, never met
        (mail, None, local(2099, 1, 1, 0, 0)),  # still running: not judged
    ):
        db.session.add(
            CaseGoal(
                case_id=case.id,
                target=GoalTarget.FIRST_RESPONSE,
                definition={"amount": 2, "unit": "working_days", "at_risk_percent": 20},
                started_at=received,
                due_at=due,
                at_risk_at=due - hour,
                met_at=met,
            )
        )
    db.session.commit()
    total, by = compliance_all(ReportFilters(period=period))
    ((target, counts, rate),) = [
        (c.target, (c.in_time, c.late, c.missed, c.running), c.rate) for c in total
    ]
    assert target == GoalTarget.FIRST_RESPONSE and counts == (1, 1, 1, 1) and rate == 33.3
    channel = {c.group: (c.in_time, c.late, c.missed, c.running) for c in by["channel"]}
    assert channel == {"Telefon": (1, 1, 0, 0), "E-post": (0, 0, 1, 1)}
    department = {c.group: c.rate for c in by["department"]}
    assert department == {"Stadsbyggnadskontoret": 50.0, "Kontaktcenter": 0.0}
    case_type = {c.group: c.judged for c in by["case_type"]}
    assert case_type == {"Bygglov": 2, "Ingen ärendetyp": 1}

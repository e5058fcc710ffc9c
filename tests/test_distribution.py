"""Distribution (#14): who gets a new e-mail or callback, the cap, the queue when nobody is
available, idempotent jobs, and what an agent going away gives back."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks import events as callback_events
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.channels.email.intake import ingest_batch
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from kontaktcenter.core.roles import Role
from kontaktcenter.distribution import assignment, presence, settings
from kontaktcenter.distribution.assignment import GivenBack
from kontaktcenter.distribution.models import (
    AgentPresence,
    AgentStatus,
    DistributedItem,
    DistributionMode,
)
from kontaktcenter.distribution.settings import SettingsData
from kontaktcenter.organisation.models import User
from tests import factories
from tests.mailutil import make_mail

outbox_dispatch = outbox.dispatch  # the fixture named outbox (mail files) hides the module


def turn_on(
    mode: DistributionMode = DistributionMode.ROUND_ROBIN,
    cap: int = 5,
    emails: bool = True,
    callbacks: bool = True,
) -> None:
    settings.save(SettingsData(mode=mode, emails=emails, callbacks=callbacks, cap=cap))
    outbox.dispatch()


def agents(n: int) -> list[User]:
    return [factories.make_user(Role.AGENT, name=f"Agent {i}") for i in range(n)]


def available(*users: User) -> None:
    for user in users:
        presence.set_status(user, AgentStatus.AVAILABLE)
    outbox.dispatch()


def new_email(summary: str = "Fråga via e-post", **kwargs) -> Case:
    """A new e-mail case in the first line's queue, as intake makes one; its jobs run."""
    creator = db.session.scalars(sa.select(User).where(User.role == Role.MANAGER)).first()
    case = factories.make_case(
        creator, None, outcome=None, channel=Channel.EMAIL, summary=summary, **kwargs
    )
    outbox.dispatch()
    return case


def assignee_of(case: Case) -> int | None:
    db.session.expire_all()
    return db.session.get(Case, case.id).assignee_id


def assign_jobs() -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxJob)
        .where(OutboxJob.task == "distribution.assign")
    )


def test_off_by_default_assigns_nothing_and_writes_no_job(org):
    available(org.agent)
    case = new_email()
    assert assignee_of(case) is None
    assert assign_jobs() == 0


def test_round_robin_gives_the_next_item_to_who_got_one_longest_ago(org):
    turn_on(DistributionMode.ROUND_ROBIN)
    a, b, c = agents(3)
    available(a, b, c)
    cases = [new_email(f"E-post {i}") for i in range(6)]
    assert [assignee_of(case) for case in cases] == [a.id, b.id, c.id, a.id, b.id, c.id]
    first = db.session.get(Case, cases[0].id)
    assert first.status == CaseStatus.NEW  # given, not started
    entry = db.session.scalars(
        sa.select(Activity).where(
            Activity.case_id == first.id, Activity.kind == ActivityKind.ASSIGNED
        )
    ).one()
    assert entry.text is None and entry.actor is None  # the timeline words it from the data
    assert entry.data == {"assignee": a.name, "via": "distribution"}


def test_least_loaded_gives_to_the_one_with_fewest_open_items(org):
    turn_on(DistributionMode.LEAST_LOADED)
    busy, free = agents(2)
    for _ in range(2):  # busy took two cases themselves ("ta nästa")
        case = new_email()
        case_actions.assign(case, busy, busy)
    available(busy, free)
    first, second, third = new_email(), new_email(), new_email()
    assert assignee_of(first) == free.id
    assert assignee_of(second) == free.id  # 1 against 2
    # 2 against 2: the tie goes to the one given an item longest ago (busy: never)
    assert assignee_of(third) == busy.id
    assert assignment.loads([busy.id, free.id]) == {busy.id: 3, free.id: 2}


def test_closed_cases_and_done_callbacks_do_not_count_as_load(org):
    turn_on(DistributionMode.LEAST_LOADED)
    a, b = agents(2)
    case = new_email()
    case_actions.assign(case, a, a)
    case_actions.close(case, a, "Besvarat")
    assert assignment.loads([a.id, b.id]) == {a.id: 0, b.id: 0}


def test_the_cap_leaves_the_rest_in_the_queue(org):
    turn_on(DistributionMode.ROUND_ROBIN, cap=1)
    a, b = agents(2)
    available(a, b)
    cases = [new_email() for _ in range(3)]
    assert sorted(filter(None, map(assignee_of, cases))) == sorted([a.id, b.id])
    assert assignee_of(cases[2]) is None
    assert assignment.free_room() == 0


def test_nobody_available_then_someone_becomes_available(org):
    turn_on(DistributionMode.ROUND_ROBIN, cap=2)
    agent, later = agents(2)
    presence.set_status(agent, AgentStatus.BREAK)
    cases = [new_email(f"Mejl {i}") for i in range(3)]
    assert [assignee_of(case) for case in cases] == [None, None, None]
    available(later)  # the status change hands out the oldest waiting, up to the cap
    assert [assignee_of(case) for case in cases] == [later.id, later.id, None]
    available(agent)
    assert assignee_of(cases[2]) == agent.id


def test_the_minute_sweep_hands_out_what_waits(org):
    agent = agents(1)[0]
    available(agent)
    case = new_email()  # distribution still off
    assert assignee_of(case) is None
    turn_on()  # saving the settings sweeps once
    assert assignee_of(case) == agent.id
    later = new_email()
    db.session.execute(sa.update(Case).where(Case.id == later.id).values(assignee_id=None))
    db.session.commit()
    assert assignment.sweep() == 1
    assert assignee_of(later) == agent.id


def test_a_job_run_twice_assigns_once(org):
    turn_on()
    a, b = agents(2)
    presence.set_status(a, AgentStatus.BREAK)
    case = new_email()
    assert assignee_of(case) is None
    available(a, b)  # the sweep gave it to a
    first = assignee_of(case)
    assert first is not None
    assert assignment.assign("case", case.id) is None  # a retry, or a second job
    assert assignee_of(case) == first
    given = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Activity)
        .where(Activity.case_id == case.id, Activity.kind == ActivityKind.ASSIGNED)
    )
    assert given == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributedItem)) == 1


def test_an_item_taken_before_its_job_runs_is_left_alone(org):
    turn_on()
    taker, other = agents(2)
    available(other)
    creator = factories.make_user(Role.MANAGER)
    case = factories.make_case(creator, None, outcome=None, channel=Channel.EMAIL)
    assert assign_jobs() == 1  # written with the case, not yet run
    assert case_actions.take_next(taker).id == case.id  # "ta nästa" was quicker
    outbox.dispatch()
    assert assignee_of(case) == taker.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributedItem)) == 0


def test_only_first_line_email_cases_are_distributed(org):
    turn_on()
    available(*agents(1))
    routed = factories.make_case(  # routed in the transaction that made it
        org.agent, org.bygglov, outcome=Outcome.ROUTED, channel=Channel.EMAIL
    )
    phone = factories.make_case(org.agent, None, outcome=Outcome.ANSWERED)
    outbox.dispatch()
    assert assignee_of(routed) is None and assignee_of(phone) is None
    assert assign_jobs() == 0


def test_a_mail_filed_by_intake_is_given_out(org, outbox):
    turn_on()
    agent = agents(1)[0]
    available(agent)
    results = ingest_batch(
        [
            make_mail(message_id="<a@example.se>"),
            make_mail(message_id="<b@example.se>", subject="Annat"),
        ]
    )
    outbox_dispatch()
    assert [result.result for result in results] == ["created", "created"]
    cases = db.session.scalars(
        sa.select(Case).where(Case.reference.in_([result.reference for result in results]))
    ).all()
    assert len(cases) == 2 and {assignee_of(case) for case in cases} == {agent.id}


def test_e_mails_can_be_left_out(org):
    turn_on(emails=False)
    available(*agents(1))
    assert assignee_of(new_email()) is None
    assert assign_jobs() == 0


def test_an_agent_not_seen_for_the_presence_window_gets_nothing(org, app, monkeypatch):
    turn_on()
    gone, here = agents(2)
    available(gone, here)
    monkeypatch.setitem(app.config, "DISTRIBUTION_PRESENCE_MINUTES", 20)
    old = utcnow() - timedelta(minutes=21)
    db.session.execute(
        sa.update(AgentPresence).where(AgentPresence.user_id == gone.id).values(seen_at=old)
    )
    db.session.commit()
    cases = [new_email() for _ in range(3)]
    assert {assignee_of(case) for case in cases} == {here.id}


def test_going_on_a_break_gives_back_what_was_not_started(org):
    turn_on(cap=3)
    agent, colleague = agents(2)
    available(agent)
    started, untouched = new_email("Påbörjat"), new_email("Orört")
    assert assignee_of(started) == assignee_of(untouched) == agent.id
    case_actions.assign(db.session.get(Case, started.id), agent, agent)  # begun: open
    changed = presence.set_status(agent, AgentStatus.BREAK)
    assert changed is not None and changed.given_back == GivenBack(cases=1)
    assert assignee_of(started) == agent.id
    assert assignee_of(untouched) is None
    back = db.session.scalars(
        sa.select(Activity)
        .where(Activity.case_id == untouched.id, Activity.kind == ActivityKind.ASSIGNED)
        .order_by(Activity.id.desc())
    ).first()
    assert back.data == {"assignee": None, "via": "distribution"} and back.text is None
    presence.set_status(colleague, AgentStatus.AVAILABLE)
    outbox.dispatch()
    assert assignee_of(untouched) == colleague.id
    # What comes back goes on at once to someone already available (no minute's wait).
    db.session.execute(
        sa.update(AgentPresence)
        .where(AgentPresence.user_id == agent.id)
        .values(status=AgentStatus.AVAILABLE, seen_at=utcnow())
    )
    db.session.commit()
    presence.set_status(colleague, AgentStatus.BREAK)
    assert assignee_of(untouched) is None
    outbox.dispatch()
    assert assignee_of(untouched) == agent.id


def test_an_absent_agents_untouched_items_go_back_with_the_sweep(org, app):
    turn_on()
    gone, here = agents(2)
    available(gone)
    case = new_email()
    assert assignee_of(case) == gone.id
    presence.set_status(here, AgentStatus.AVAILABLE)  # not yet swept
    old = utcnow() - timedelta(minutes=app.config.get("DISTRIBUTION_PRESENCE_MINUTES", 20) + 1)
    db.session.execute(
        sa.update(AgentPresence).where(AgentPresence.user_id == gone.id).values(seen_at=old)
    )
    db.session.commit()
    assert assignment.sweep() == 1
    assert assignee_of(case) == here.id


def _callback(case: Case, **fields) -> Callback:
    """A callback as the callbacks area makes one: flushed, then announced."""
    callback = Callback(
        case=case, source=CallbackSource.AGENT, due_at=utcnow() + timedelta(hours=24), **fields
    )
    db.session.add(callback)
    db.session.flush()
    callback_events.created.send(callback)
    outbox.commit()
    return callback


def callback_assignee(callback: Callback) -> int | None:
    db.session.expire_all()
    return db.session.get(Callback, callback.id).assigned_to_id


def test_new_first_line_callbacks_are_distributed(org):
    turn_on()
    agent = agents(1)[0]
    available(agent)
    first_line = factories.make_case(org.agent, None, outcome=Outcome.ANSWERED)
    department = factories.make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED)
    mine = _callback(first_line)
    theirs = _callback(department)
    later = _callback(first_line, next_attempt_at=utcnow() + timedelta(hours=3))
    assert callback_assignee(mine) == agent.id
    assert callback_assignee(theirs) is None
    assert callback_assignee(later) is None  # not to be called yet: the sweep takes it then
    entry = db.session.scalars(
        sa.select(Activity).where(
            Activity.case_id == first_line.id, Activity.kind == ActivityKind.ASSIGNED
        )
    ).one()
    assert entry.data == {"assignee": agent.name, "via": "distribution", "callback": mine.id}
    assert assignment.loads([agent.id]) == {agent.id: 1}
    presence.set_status(agent, AgentStatus.TRAINING)  # not tried yet: back to the worklist
    assert callback_assignee(mine) is None


def test_a_callback_given_back_says_so_on_its_case_timeline(org):
    turn_on()
    agent = agents(1)[0]
    available(agent)
    case = factories.make_case(org.agent, None, outcome=Outcome.ANSWERED)
    callback = _callback(case)
    assert callback_assignee(callback) == agent.id
    changed = presence.set_status(agent, AgentStatus.BREAK)
    assert callback_assignee(callback) is None
    assert changed is not None and changed.given_back == GivenBack(callbacks=1)
    entries = db.session.scalars(
        sa.select(Activity)
        .where(Activity.case_id == case.id, Activity.kind == ActivityKind.ASSIGNED)
        .order_by(Activity.id)
    ).all()
    assert [entry.data for entry in entries] == [
        {"assignee": agent.name, "via": "distribution", "callback": callback.id},
        {"assignee": None, "via": "distribution", "callback": callback.id},
    ]


def test_a_tried_callback_stays_with_the_agent(org):
    turn_on()
    agent = agents(1)[0]
    available(agent)
    callback = _callback(factories.make_case(org.agent, None, outcome=Outcome.ANSWERED))
    db.session.get(Callback, callback.id).attempts = 1
    db.session.commit()
    presence.set_status(agent, AgentStatus.BREAK)
    assert callback_assignee(callback) == agent.id
    assert db.session.get(Callback, callback.id).status == CallbackStatus.PENDING


def test_callbacks_can_be_left_out(org):
    turn_on(callbacks=False)
    available(*agents(1))
    callback = _callback(factories.make_case(org.agent, None, outcome=Outcome.ANSWERED))
    assert callback_assignee(callback) is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (SettingsData(DistributionMode.ROUND_ROBIN, True, True, 0), "cap"),
        (SettingsData(DistributionMode.ROUND_ROBIN, True, True, None), "cap"),
        (SettingsData(None, True, True, 5), "mode"),
        (SettingsData(DistributionMode.LEAST_LOADED, False, False, 5), "emails"),
    ],
)
def test_settings_are_checked(org, data, field):
    with pytest.raises(ValidationError) as error:
        settings.save(data)
    assert error.value.field == field


def test_a_status_must_be_one_of_the_statuses(org):
    with pytest.raises(ValidationError):
        presence.set_status(org.agent, "lunch")
    assert db.session.get(AgentPresence, org.agent.id) is None


def test_the_sweep_runs_every_minute(app):
    from kontaktcenter.core import periodic
    from kontaktcenter.distribution import tasks

    assert (tasks.sweep_job, 60) in periodic.PERIODIC

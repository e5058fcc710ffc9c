"""Distribution (#14) on real PostgreSQL: assign jobs running at the same moment, each in its
own thread and connection, never give an agent more than the cap, nor an item twice; a first
status chosen twice at once is no error.

Savepoint isolation cannot show races, so these commit for real in a database of their own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from kontaktcenter.cases.enums import ActivityKind, Channel
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.distribution import assignment, presence
from kontaktcenter.distribution.models import (
    AgentPresence,
    AgentStatus,
    DistributedItem,
    DistributionMode,
    DistributionSettings,
)
from kontaktcenter.organisation.models import User
from tests import factories
from tests.conftest import run_in_threads, threaded_postgres_app

pytestmark = pytest.mark.postgres
THREADS = 8
CAP = 3


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    with threaded_postgres_app("kontaktcenter_distribution", THREADS) as app:
        yield app


def _run_in_threads(app: Flask, work, n: int = THREADS) -> list:
    return run_in_threads(app, work, n)


def _setup(app: Flask, cases: int) -> tuple[list[int], list[int]]:
    """Two available agents, `cases` waiting e-mails (made while distribution was off), then
    least-loaded distribution with the cap turned on."""
    with app.app_context():
        db.session.execute(sa.delete(DistributedItem))
        db.session.execute(
            sa.update(Case).values(assignee_id=None, status="closed")
        )  # earlier tests' cases leave the queue
        db.session.execute(sa.delete(DistributionSettings))
        db.session.commit()
        agents = [factories.make_user(Role.AGENT) for _ in range(2)]
        for agent in agents:
            presence.set_status(agent, AgentStatus.AVAILABLE)
        creator = db.session.scalars(sa.select(User).where(User.role == Role.MANAGER)).first()
        ids = [
            factories.make_case(creator, None, outcome=None, channel=Channel.EMAIL).id
            for _ in range(cases)
        ]
        db.session.add(
            DistributionSettings(
                id=1, mode=DistributionMode.LEAST_LOADED, emails=True, callbacks=True, cap=CAP
            )
        )
        db.session.commit()
        agent_ids = [agent.id for agent in agents]
        db.session.remove()
    return agent_ids, ids


def test_concurrent_assign_jobs_never_exceed_the_cap(pg_app):
    agent_ids, case_ids = _setup(pg_app, THREADS * 2)

    def assign(i: int) -> list[int | None]:
        return [assignment.assign("case", case_ids[j]) for j in (2 * i, 2 * i + 1)]

    given = [user for batch in _run_in_threads(pg_app, assign) for user in batch]
    per_agent = Counter(user for user in given if user is not None)
    assert per_agent == {agent_ids[0]: CAP, agent_ids[1]: CAP}
    with pg_app.app_context():
        assert assignment.loads(agent_ids) == {agent_ids[0]: CAP, agent_ids[1]: CAP}
        waiting = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Case)
            .where(Case.id.in_(case_ids), Case.assignee_id.is_(None))
        )
        assert waiting == len(case_ids) - 2 * CAP
        db.session.remove()


def test_the_same_item_assigned_by_many_jobs_at_once_is_assigned_once(pg_app):
    agent_ids, (case_id,) = _setup(pg_app, 1)
    given = _run_in_threads(pg_app, lambda _i: assignment.assign("case", case_id))
    assert len([user for user in given if user is not None]) == 1
    with pg_app.app_context():
        entries = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Activity)
            .where(Activity.case_id == case_id, Activity.kind == ActivityKind.ASSIGNED)
        )
        assert entries == 1
        assert db.session.get(Case, case_id).assignee_id in agent_ids
        db.session.remove()


def test_a_first_status_chosen_twice_at_once_is_set_once(pg_app):
    """Two tabs (or a double click): neither finds a row to lock, both insert."""
    with pg_app.app_context():
        uid = factories.make_user(Role.AGENT, name="Ny Agent").id
        db.session.commit()
        db.session.remove()

    def choose(i: int) -> AgentStatus:
        status = (AgentStatus.AVAILABLE, AgentStatus.BREAK)[i % 2]
        presence.set_status(db.session.get(User, uid), status)
        return status

    _run_in_threads(pg_app, choose)
    with pg_app.app_context():
        rows = db.session.scalars(sa.select(AgentPresence).where(AgentPresence.user_id == uid))
        (row,) = rows.all()
        assert row.status in (AgentStatus.AVAILABLE, AgentStatus.BREAK)
        assert row.seen_at is not None
        db.session.remove()


def test_a_status_change_while_the_sweep_gives_back_the_same_items(pg_app):
    """The sweep gives back an absent agent's items; before it commits, the agent picks rast
    (which gives back the same items): the second finds them gone, and that is no error."""
    _agent_ids, case_ids = _setup(pg_app, 1)
    with pg_app.app_context():
        uid = assignment.assign("case", case_ids[0])
        assert uid is not None
        db.session.remove()
    given_back = threading.Event()
    errors: list[BaseException] = []

    def sweep_side() -> None:
        with pg_app.app_context():
            try:
                assert assignment.give_back(uid) == assignment.GivenBack(cases=1)
                given_back.set()
                time.sleep(1.0)  # the status change waits for this transaction meanwhile
                db.session.commit()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
                given_back.set()
            finally:
                db.session.remove()

    def status_side() -> None:
        given_back.wait(10)
        with pg_app.app_context():
            try:
                changed = presence.set_status(db.session.get(User, uid), AgentStatus.BREAK)
                assert changed is not None and not changed.given_back
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep_side), threading.Thread(target=status_side)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with pg_app.app_context():
        case = db.session.get(Case, case_ids[0])
        assert case is not None and case.assignee_id is None
        assert db.session.scalars(sa.select(DistributedItem)).all() == []
        db.session.remove()

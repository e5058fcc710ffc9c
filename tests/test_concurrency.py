"""Concurrency on real PostgreSQL: reference numbers and "ta nästa" under parallel requests.

These run against their own PostgreSQL database with real commits from several threads (each
with its own connection), since savepoint isolation cannot show races.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from kontaktcenter import create_app
from kontaktcenter.config import TestConfig
from kontaktcenter.extensions import db
from kontaktcenter.models import Activity, ActivityKind, Case, Channel, Outcome, Role, User
from kontaktcenter.services import case_actions
from tests import factories
from tests.conftest import postgres_url

pytestmark = pytest.mark.postgres
THREADS = 8


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    url = postgres_url("kontaktcenter_concurrency")
    app = create_app(
        TestConfig,
        {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 2}},
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        factories.make_org()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def _run_in_threads(app: Flask, work, n: int = THREADS) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results[i] = work(i)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def _agents(app: Flask) -> list[int]:
    with app.app_context():
        ids = [factories.make_user(Role.AGENT).id for _ in range(THREADS)]
        db.session.remove()
        return ids


def test_references_are_unique_and_gapless_under_concurrent_creation(pg_app):
    agent_ids = _agents(pg_app)

    def create(i: int) -> list[str]:
        agent = db.session.get(User, agent_ids[i])
        refs = []
        for _ in range(10):
            case = factories.make_case(agent, None, outcome=Outcome.ANSWERED, summary=f"T{i}")
            refs.append(case.reference)
        return refs

    refs = [r for batch in _run_in_threads(pg_app, create) for r in batch]
    assert len(refs) == THREADS * 10 and len(set(refs)) == len(refs)
    numbers = sorted(int(r[-6:]) for r in refs)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_take_next_never_gives_two_agents_the_same_case(pg_app):
    agent_ids = _agents(pg_app)
    with pg_app.app_context():
        creator = db.session.get(User, agent_ids[0])
        created = [
            factories.make_case(
                creator, None, outcome=None, channel=Channel.EMAIL, summary="Mejl"
            ).id
            for _ in range(THREADS * 3)
        ]
        db.session.remove()

    def take(i: int) -> list[int]:
        agent = db.session.get(User, agent_ids[i])
        taken = []
        while (case := case_actions.take_next(agent)) is not None:
            taken.append(case.id)
        return taken

    taken = [c for batch in _run_in_threads(pg_app, take) for c in batch]
    assert Counter(taken).most_common(1)[0][1] == 1
    assert set(created) <= set(taken)
    with pg_app.app_context():
        assigned = db.session.execute(
            sa.select(Activity.case_id, sa.func.count())
            .where(Activity.kind == ActivityKind.ASSIGNED, Activity.case_id.in_(created))
            .group_by(Activity.case_id)
        ).all()
        assert all(n == 1 for _, n in assigned) and len(assigned) == len(created)
        owners = db.session.scalars(sa.select(Case.assignee_id).where(Case.id.in_(created))).all()
        assert None not in owners
        db.session.remove()

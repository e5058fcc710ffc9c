"""Callbacks under concurrency on real PostgreSQL (#14): "ta nästa återuppringning" from several
agents at once, the same platform request arriving twice at the same moment, and requests for
one number from several sources at once.

Real commits from several threads (each with its own connection), in a database of its own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from kontaktcenter.callbacks import hooks, services
from kontaktcenter.callbacks.models import Callback, CallbackSource
from kontaktcenter.callbacks.services import CallbackRequest
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User
from tests import factories
from tests.conftest import threaded_postgres_app
from tests.test_concurrency import THREADS, _run_in_threads

assert hooks
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    with threaded_postgres_app("kontaktcenter_callbacks_concurrency", THREADS) as app:
        yield app


def _agents(app: Flask) -> list[int]:
    with app.app_context():
        ids = [factories.make_user(Role.AGENT).id for _ in range(THREADS)]
        db.session.remove()
        return ids


def test_two_agents_taking_at_once_never_get_the_same_callback(pg_app):
    agent_ids = _agents(pg_app)
    with pg_app.app_context():
        creator = db.session.get(User, agent_ids[0])
        created = [
            services.request(
                CallbackRequest(CallbackSource.PLATFORM, number=f"070-{i:03d} 00 00"), creator
            ).callback.id
            for i in range(THREADS * 3)
        ]
        db.session.remove()

    def take(i: int) -> list[int]:
        agent = db.session.get(User, agent_ids[i])
        taken = []
        while (callback := services.take_next(agent)) is not None:
            taken.append(callback.id)
        return taken

    taken = [c for batch in _run_in_threads(pg_app, take) for c in batch]
    assert Counter(taken).most_common(1)[0][1] == 1
    assert sorted(taken) == sorted(created)
    with pg_app.app_context():
        owners = db.session.scalars(
            sa.select(Callback.assigned_to_id).where(Callback.id.in_(created))
        ).all()
        assert None not in owners
        db.session.remove()


def test_the_same_request_at_the_same_moment_makes_one_callback(pg_app):
    agent_ids = _agents(pg_app)
    start = utcnow() + timedelta(hours=1)

    def send(i: int) -> tuple[int, bool]:
        by = db.session.get(User, agent_ids[i])
        result = services.request(
            CallbackRequest(
                CallbackSource.E_SERVICE,
                number="070-999 88 77",
                platform_ref="e-tjanst-4711",
                slot_start=start,
                slot_end=start + timedelta(hours=1),
            ),
            by,
        )
        return result.callback.id, result.created

    results = _run_in_threads(pg_app, send)
    assert len({callback_id for callback_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    with pg_app.app_context():
        rows = db.session.scalars(
            sa.select(Callback).where(Callback.platform_ref == "e-tjanst-4711")
        ).all()
        assert len(rows) == 1
        cases = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Case)
            .join(Contact, Contact.id == Case.contact_id)
            .where(Contact.phone_e164 == "+46709998877")
        )
        assert cases == 1
        db.session.remove()


def test_requests_for_one_number_from_several_sources_at_once_make_one_callback(pg_app):
    """The platform's queue callback, an e-service and an abandoned call of the same caller,
    arriving together: one callback, the others join it."""
    agent_ids = _agents(pg_app)

    def send(i: int) -> tuple[int, bool]:
        by = db.session.get(User, agent_ids[i])
        source = [CallbackSource.PLATFORM, CallbackSource.E_SERVICE, CallbackSource.ABANDONED][
            i % 3
        ]
        data = CallbackRequest(source, number="070-777 66 55", platform_ref=f"ref-{i}")
        if source == CallbackSource.ABANDONED:  # as the abandoned-call hook: no requester
            result = services.request_in_transaction(data, None)
            db.session.commit()
        else:
            result = services.request(data, by)
        return result.callback.id, result.created

    results = _run_in_threads(pg_app, send)
    assert len({callback_id for callback_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    with pg_app.app_context():
        callbacks = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Callback)
            .where(Callback.number_e164 == "+46707776655")
        )
        assert callbacks == 1
        db.session.remove()

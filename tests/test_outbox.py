"""The transactional outbox: work is committed with the change that causes it, run once, retried,
recovered when left behind, and shown to the admin when it fails for good."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.core import jobs, outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from tests import factories
from tests.statements import statements

CALLS: list[dict] = []
FAILURES: dict[str, int] = {}


@outbox.task("test.record")
def _record(**args) -> None:
    CALLS.append(args)


@outbox.task("test.flaky")
def _flaky(key: str) -> None:
    if FAILURES.get(key, 0) > 0:
        FAILURES[key] -= 1
        raise ConnectionError(f"{key} is down")
    CALLS.append({"key": key})


@outbox.task("test.private", private=("number",))
def _private(number: str | None, reference: str, fail: bool = False) -> None:
    if fail:
        raise ConnectionError("the platform is down")
    CALLS.append({"number": number, "reference": reference})


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    FAILURES.clear()


def _row(job_id: int) -> OutboxJob:
    row = db.session.get(OutboxJob, job_id, populate_existing=True)
    assert row is not None
    return row


def test_work_runs_after_the_commit_that_caused_it(db_session):
    row = outbox.add("test.record", case_id=7)
    assert CALLS == []  # nothing before the commit
    outbox.commit()
    assert CALLS == [{"case_id": 7}]
    assert _row(row.id).state == "done" and _row(row.id).finished_at is not None


def test_work_of_a_rolled_back_change_never_runs(db_session):
    outbox.add("test.record", case_id=8)
    db.session.flush()
    db.session.rollback()
    outbox.dispatch()
    assert CALLS == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 0


def test_an_unknown_task_is_a_programming_error(db_session):
    with pytest.raises(LookupError):
        outbox.add("test.no-such-task")


def test_rows_added_in_one_insert_run_after_the_commit_in_their_order(db_session):
    """add_many (the HTTP door's path: no ORM objects) is add for many rows at once."""
    ids = outbox.add_many("test.record", [{"n": 1}, {"n": 2}, {"n": 3}])
    assert CALLS == []
    outbox.commit()
    assert CALLS == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [_row(i).args for i in ids] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert all(_row(i).state == "done" for i in ids)


def test_rows_added_in_one_insert_are_handed_over_by_the_commit(app, db_session, monkeypatch):
    """Outside tests the commit hands the rows to the job runner (one job per ordinary row),
    and a rolled-back insert hands over nothing."""
    handed: list[tuple] = []
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args, **_: handed.append((func, args)))
    outbox.add_many("test.record", [{"n": 5}])
    db.session.rollback()
    assert handed == []
    ids = outbox.add_many("test.record", [{"n": 6}, {"n": 7}])
    db.session.commit()
    assert [(func.__name__, args) for func, args in handed] == [("run", (i,)) for i in ids]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 2


def test_rows_added_in_one_insert_of_a_rolled_back_change_never_run(db_session):
    outbox.add_many("test.record", [{"n": 8}])
    db.session.rollback()
    outbox.dispatch()
    assert CALLS == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 0
    with pytest.raises(LookupError):
        outbox.add_many("test.no-such-task", [{"n": 9}])


@pytest.mark.parametrize("many", [False, True], ids=["add", "add_many"])
def test_rows_of_a_rolled_back_savepoint_are_not_handed_over(app, db_session, monkeypatch, many):
    """A savepoint rolled back takes its rows with it, the ones written before it and after it
    are handed over (on SQLite the lost row's id is given again: it must not run twice)."""
    handed: list[tuple] = []
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args, **_: handed.append(args))

    def added(n: int) -> int:
        if many:
            return outbox.add_many("test.record", [{"n": n}])[0]
        row = outbox.add("test.record", n=n)
        db.session.flush()
        return row.id

    kept = added(1)
    with pytest.raises(RuntimeError), db.session.begin_nested():
        added(2)
        with db.session.begin_nested():  # released into the outer savepoint, then lost with it
            added(3)
        raise RuntimeError
    again = added(4)
    db.session.commit()
    assert handed == [(kept,), (again,)]
    assert db.session.scalars(sa.select(OutboxJob.args).order_by(OutboxJob.id)).all() == [
        {"n": 1},
        {"n": 4},
    ]


def test_a_row_runs_once_however_often_it_is_handed_over(db_session):
    row = outbox.add("test.record", n=1)
    outbox.commit()
    outbox.run(row.id)  # a second delivery of the same job (RQ retry, recover, a duplicate)
    outbox.run(row.id)
    assert CALLS == [{"n": 1}]


def test_a_row_claimed_by_another_runner_is_left_to_it(db_session):
    row = outbox.add("test.record", n=2)
    db.session.commit()  # not dispatched
    db.session.execute(sa.update(OutboxJob).values(state="running", claimed_at=utcnow()))
    db.session.commit()
    outbox.run(row.id)
    assert CALLS == []


def test_a_job_runner_that_is_down_loses_nothing(app, db_session, monkeypatch):
    """Redis down at the commit: the change is committed, its work waits and is recovered."""

    def down(*_args, **_kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setitem(app.config, "JOBS_MODE", "rq")
    monkeypatch.setattr(jobs, "enqueue", down)
    row = outbox.add("test.record", n=3)
    outbox.commit()  # no exception: the change is safe
    assert CALLS == [] and _row(row.id).state == "pending"
    monkeypatch.setitem(app.config, "JOBS_MODE", "eager")
    later = utcnow() + timedelta(seconds=app.config["OUTBOX_GRACE_SECONDS"] + 1)
    assert outbox.recover(now=utcnow()) == 0  # too fresh: its own commit may still hand it over
    assert outbox.recover(now=later) == 1
    assert CALLS == [{"n": 3}] and _row(row.id).state == "done"


def test_a_row_whose_worker_died_is_run_again(app, db_session):
    row = outbox.add("test.record", n=4)
    db.session.commit()
    claimed = utcnow()
    db.session.execute(sa.update(OutboxJob).values(state="running", claimed_at=claimed, attempts=1))
    db.session.commit()
    assert outbox.recover(now=claimed + timedelta(seconds=5)) == 0  # may still be running
    stuck = claimed + timedelta(seconds=app.config["OUTBOX_STUCK_SECONDS"] + 1)
    outbox.recover(now=stuck)
    assert CALLS == [{"n": 4}] and _row(row.id).state == "done" and _row(row.id).attempts == 2


def test_failures_are_retried_with_backoff_then_kept_as_failed(app, db_session):
    FAILURES["smtp"] = 99
    row = outbox.add("test.flaky", key="smtp")
    outbox.commit()
    first = _row(row.id)
    assert first.state == "pending" and first.attempts == 1
    assert "ConnectionError: smtp is down" in first.last_error
    assert first.run_after > utcnow()  # not before the backoff
    outbox.recover(now=utcnow())
    assert _row(row.id).attempts == 1  # not due yet
    for hour in range(1, app.config["OUTBOX_MAX_ATTEMPTS"] + 2):
        outbox.recover(now=utcnow() + timedelta(hours=hour))
    final = _row(row.id)
    assert final.state == "failed" and final.attempts == app.config["OUTBOX_MAX_ATTEMPTS"]
    assert CALLS == []


def test_a_retry_that_succeeds_is_done(app, db_session):
    FAILURES["smtp"] = 1
    row = outbox.add("test.flaky", key="smtp")
    outbox.commit()
    outbox.recover(now=utcnow() + timedelta(hours=1))
    assert CALLS == [{"key": "smtp"}]
    assert _row(row.id).state == "done" and _row(row.id).attempts == 2


def test_the_admin_sees_failed_work_and_can_run_it_again(app, client, org, login):
    FAILURES["smtp"] = 99
    row = outbox.add("test.flaky", key="smtp")
    outbox.commit()
    for hour in range(1, app.config["OUTBOX_MAX_ATTEMPTS"] + 1):
        outbox.recover(now=utcnow() + timedelta(hours=hour))
    assert _row(row.id).state == "failed"
    login(org.admin)
    index = client.get("/admin/").get_data(as_text=True)
    assert "1 bakgrundsjobb har misslyckats" in index
    page = client.get("/admin/driftstatus")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"#{row.id}" in html and "ConnectionError: smtp is down" in html
    assert "Misslyckades" in html
    FAILURES["smtp"] = 0  # the server is back
    token = factories.csrf_token(client, "/admin/driftstatus")
    answer = client.post(f"/admin/driftstatus/{row.id}/forsok-igen", data={"csrf_token": token})
    assert answer.status_code == 302
    assert CALLS == [{"key": "smtp"}] and _row(row.id).state == "done"
    assert "Inga jobb behöver uppmärksamhet" in client.get("/admin/driftstatus").get_data(
        as_text=True
    )


def test_retry_needs_the_csrf_token_and_a_failed_row(app, client, org, login):
    row = outbox.add("test.record", n=5)
    outbox.commit()
    login(org.admin)
    assert client.post(f"/admin/driftstatus/{row.id}/forsok-igen").status_code == 400
    token = factories.csrf_token(client, "/admin/driftstatus")
    client.post(f"/admin/driftstatus/{row.id}/forsok-igen", data={"csrf_token": token})
    assert CALLS == [{"n": 5}]  # done work is not run again


def test_a_tasks_personal_data_is_erased_from_its_row_once_it_has_run(db_session):
    row = outbox.add("test.private", number="+46701234567", reference="KC-2026-000001")
    outbox.commit()
    assert CALLS == [{"number": "+46701234567", "reference": "KC-2026-000001"}]
    done = _row(row.id)
    assert done.state == "done" and done.args == {"number": None, "reference": "KC-2026-000001"}


def test_a_tasks_personal_data_stays_for_a_retry_and_goes_when_it_fails_for_good(app, db_session):
    row = outbox.add("test.private", number="+46701234567", reference="KC-1", fail=True)
    outbox.commit()
    assert _row(row.id).state == "pending" and _row(row.id).args["number"] == "+46701234567"
    for hour in range(1, app.config["OUTBOX_MAX_ATTEMPTS"] + 2):
        outbox.recover(now=utcnow() + timedelta(hours=hour))
    final = _row(row.id)
    assert final.state == "failed" and final.args["number"] is None
    assert final.args["reference"] == "KC-1"


# --- batch tasks -------------------------------------------------------------------------------

BATCHES: list[list[dict]] = []


@outbox.task("test.batch", private=("number",), batch=3)
def _batch(items: list[dict]) -> list[str | None]:
    BATCHES.append(items)
    if any(item.get("explode") for item in items):
        raise ConnectionError("the whole batch failed")
    return ["nej" if item.get("fail") else None for item in items]


@pytest.fixture
def _batches():
    BATCHES.clear()
    yield BATCHES


def _pending(name: str, *args: dict) -> list[int]:
    rows = [outbox.add(name, **item) for item in args]
    db.session.commit()
    db.session.info.pop("outbox_ready", None)  # not run here: left for a drain
    return [row.id for row in rows]


def test_a_drain_runs_a_batch_tasks_rows_a_batch_at_a_time(db_session, _batches):
    ids = _pending("test.batch", *({"n": n, "number": f"070{n}"} for n in range(7)))
    assert outbox.drain("test.batch") == 7
    assert [[item["n"] for item in batch] for batch in _batches] == [[0, 1, 2], [3, 4, 5], [6]]
    rows = [_row(job_id) for job_id in ids]
    assert {(row.state, row.attempts) for row in rows} == {("done", 1)}
    assert {row.args["number"] for row in rows} == {None}  # private arguments erased
    assert outbox.drain("test.batch") == 0  # nothing left, nothing run twice


def test_a_batch_tasks_failed_rows_are_retried_alone_and_the_others_are_done(
    app, db_session, _batches
):
    ok, bad = _pending("test.batch", {"n": 1}, {"n": 2, "fail": True})
    outbox.drain("test.batch")
    assert _row(ok).state == "done"
    failed = _row(bad)
    assert (failed.state, failed.attempts, failed.last_error) == ("pending", 1, "nej")
    assert outbox.drain("test.batch") == 0  # its backoff has not passed
    outbox.recover(utcnow() + timedelta(seconds=11))
    assert _batches[-1] == [{"n": 2, "fail": True}] and _row(bad).attempts == 2


def test_a_batchs_done_rows_are_marked_in_one_statement(db_session, _batches):
    """A drain of mail marks a hundred rows done at a time: one UPDATE, not one per row (#16).
    Rows with private arguments are written one by one (each keeps its other arguments)."""
    plain = _pending("test.batch", {"n": 1}, {"n": 2}, {"n": 3})
    with statements(ours_only=True) as sent:
        assert outbox.drain("test.batch") == 3
    assert {_row(job_id).state for job_id in plain} == {"done"}
    updates = [s for s in sent if s.startswith("UPDATE outbox_jobs")]
    assert len(updates) == 2  # the claim, and the three rows done
    private = _pending("test.batch", {"n": 4, "number": "0701"}, {"n": 5, "number": "0702"})
    outbox.drain("test.batch")
    assert [_row(job_id).args for job_id in private] == [
        {"n": 4, "number": None},
        {"n": 5, "number": None},
    ]


def test_a_batch_that_raises_retries_every_row(db_session, _batches):
    ids = _pending("test.batch", {"n": 1}, {"n": 2, "explode": True})
    outbox.drain("test.batch")
    rows = [_row(job_id) for job_id in ids]
    assert [(row.state, row.last_error) for row in rows] == [
        ("pending", "ConnectionError: the whole batch failed")
    ] * 2


def test_a_commit_hands_over_one_drain_while_one_waits(app, db_session, monkeypatch, _batches):
    """Thread mode (the embedded default): rows of a batch task committed while a drain waits
    to start hand over nothing more; once it has started, the next commit hands over another."""
    handed: list[tuple] = []
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args, **_: handed.append((func, args)))
    monkeypatch.setattr(outbox, "_draining", set())
    for n in range(3):
        outbox.add("test.batch", n=n)
    outbox.add("test.record", n=9)
    db.session.commit()
    outbox.add("test.batch", n=3)
    db.session.commit()
    assert [(func.__name__, args) for func, args in handed] == [
        ("run", (handed[0][1][0],)),  # the ordinary task's row: a job of its own
        ("drain", ("test.batch",)),
    ]
    monkeypatch.setitem(app.config, "JOBS_MODE", "eager")
    outbox.drain("test.batch")  # clears the flag before it claims
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    outbox.add("test.batch", n=4)
    db.session.commit()
    assert [func.__name__ for func, _ in handed] == ["run", "drain", "drain"]
    assert [item["n"] for batch in _batches for item in batch] == [0, 1, 2, 3]
    # The waiting drain may be lost (a worker killed before it began): recover() hands over
    # another all the same.
    later = utcnow() + timedelta(seconds=app.config["OUTBOX_GRACE_SECONDS"] + 1)
    outbox.recover(later)
    assert [func.__name__ for func, _ in handed] == ["run", "drain", "drain", "run", "drain"]


def test_a_row_run_before_is_claimed_alone_and_first(db_session, _batches):
    """A row that failed or whose runner died may be the one that kills a worker: it must not
    hold up, or use up the attempts of, rows claimed with it."""
    first, retried, *rest = _pending("test.batch", *({"n": n} for n in range(5)))
    db.session.execute(sa.update(OutboxJob).where(OutboxJob.id == retried).values(attempts=1))
    db.session.commit()
    outbox.drain("test.batch")
    assert [[item["n"] for item in batch] for batch in _batches] == [[1], [0, 2, 3], [4]]
    assert [_row(job_id).attempts for job_id in (first, retried, *rest)] == [1, 2, 1, 1, 1]


DRAINED: list[dict] = []


@outbox.task("test.drained", drain=True)
def _drained(n: int, fail: bool = False) -> None:
    if fail:
        raise ConnectionError("SMTP-servern svarar inte")
    DRAINED.append({"n": n})


def test_a_drained_tasks_rows_run_one_at_a_time_under_one_job(app, db_session, monkeypatch):
    """Acknowledgements and deliveries: one drain job for the rows a commit makes, each row
    run on its own (its own function call, result and backoff)."""
    DRAINED.clear()
    handed: list[str] = []
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args, **_: handed.append(func.__name__))
    monkeypatch.setattr(outbox, "_draining", set())
    rows = [outbox.add("test.drained", n=n, fail=n == 1) for n in range(3)]
    db.session.commit()
    ids = [row.id for row in rows]
    assert handed == ["drain"]
    monkeypatch.setitem(app.config, "JOBS_MODE", "eager")
    assert outbox.drain("test.drained") == 3
    assert DRAINED == [{"n": 0}, {"n": 2}]
    assert [_row(job_id).state for job_id in ids] == ["done", "pending", "done"]
    assert _row(ids[1]).last_error == "ConnectionError: SMTP-servern svarar inte"

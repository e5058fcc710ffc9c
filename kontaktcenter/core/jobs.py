"""Background jobs: RQ on Redis in production, a thread in the embedded default.

Jobs are plain functions taking ids. Services never enqueue: they write an outbox row
(:mod:`kontaktcenter.core.outbox`) in their transaction, and the outbox calls ``enqueue`` after the
commit, so a job only ever sees committed rows and no work is lost in between.

Modes (``JOBS_MODE``): ``rq`` (default with ``REDIS_URL``), ``thread`` (default without),
``eager`` (tests: run at once in the caller's context).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_pending: set[Future[None]] = set()  # thread mode: jobs not finished yet (drain() waits)
_worker_app: Flask | None = None


def init_app(app: Flask) -> None:
    mode = app.config.get("JOBS_MODE") or ("rq" if app.config.get("REDIS_URL") else "thread")
    if mode not in ("rq", "thread", "eager"):
        raise RuntimeError(f"Unknown JOBS_MODE {mode!r}")
    if mode == "rq" and not app.config.get("REDIS_URL"):
        raise RuntimeError("JOBS_MODE=rq needs REDIS_URL")
    app.config["JOBS_MODE"] = mode
    app.extensions["kontaktcenter.core.jobs"] = {"mode": mode}


def redis_connection(app: Flask | None = None):
    from redis import Redis

    app = app or current_app
    ext = app.extensions["kontaktcenter.core.jobs"]
    if "redis" not in ext:
        ext["redis"] = Redis.from_url(app.config["REDIS_URL"])
    return ext["redis"]


def rq_queue(app: Flask | None = None):
    from rq import Queue

    app = app or current_app
    return Queue(app.config["JOB_QUEUE"], connection=redis_connection(app))


def app_job(func: Callable[P, R]) -> Callable[P, R]:
    """Run the job inside an app context: the caller's, or the worker's own app."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if has_app_context():
            return func(*args, **kwargs)
        with _app_for_worker().app_context():
            return func(*args, **kwargs)

    return wrapper


def use_app_for_jobs(app: Flask) -> None:
    """The app whose context jobs run in when they start without one (the RQ worker's)."""
    global _worker_app
    _worker_app = app


def _app_for_worker() -> Flask:
    if _worker_app is None:
        raise RuntimeError("No app for jobs: start workers with `flask --app wsgi worker`.")
    return _worker_app


def enqueue(
    func: Callable[..., Any],
    *args: Any,
    rq_job_id: str | None = None,
    rq_job_timeout: int | None = None,
    **kwargs: Any,
) -> None:
    """Run `func(*args)` in the background. Call only after the data it reads is committed."""
    mode = current_app.config["JOBS_MODE"]
    if mode == "eager":
        func(*args, **kwargs)
    elif mode == "thread":
        global _executor
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kc-job")
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy method

        def run() -> None:
            with app.app_context():
                try:
                    func(*args, **kwargs)
                except Exception:
                    log.exception("Job %s failed", getattr(func, "__name__", func))

        future = _executor.submit(run)
        _pending.add(future)
        future.add_done_callback(_pending.discard)
    else:
        # No RQ retries: the outbox records failures and retries them itself, in every mode.
        rq_queue().enqueue(func, *args, **kwargs, job_id=rq_job_id, job_timeout=rq_job_timeout)


def drain(timeout: float = 300.0) -> bool:
    """Thread mode: wait until the jobs handed over so far, and the jobs they hand over in
    turn (a receipt's delivery), have finished, at most `timeout` seconds. A command such as
    `import-mail` calls it before it exits, so its work is done rather than left for the web
    process's recovery. True when nothing is left; in the other modes there is nothing to wait
    for."""
    import time

    deadline = time.monotonic() + timeout
    while _pending:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        wait(list(_pending), timeout=left)
    return True

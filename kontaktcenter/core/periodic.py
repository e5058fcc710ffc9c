"""Periodic jobs, registered by the areas (the service-goal sweep, mailbox polling, …).

Production runs ``flask --app wsgi scheduler`` (the Procfile's ``clock``), an RQ CronScheduler
that enqueues each job at its interval for the workers. The embedded default runs the same jobs
from a daemon thread in the web process, started by its first request. All periodic jobs are
idempotent, so an extra scheduler running is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import click
from flask import Flask, current_app

log = logging.getLogger(__name__)


PERIODIC: list[tuple[Callable[[], object], int]] = []


def register(func: Callable[[], object], seconds: int) -> None:
    """Run `func` (an idempotent ``@app_job`` taking no arguments) every `seconds`."""
    if all(existing is not func for existing, _ in PERIODIC):
        PERIODIC.append((func, seconds))


_started = False
_lock = threading.Lock()


def start_in_process(app: Flask) -> None:
    """Run the periodic jobs in a daemon thread (embedded default, once per process)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True

    def loop() -> None:
        next_run = {func: 0.0 for func, _ in PERIODIC}
        while True:
            for func, interval in PERIODIC:
                if time.monotonic() >= next_run[func]:
                    next_run[func] = time.monotonic() + interval
                    try:
                        with app.app_context():
                            func()
                    except Exception:
                        log.exception("Periodic job %s failed", func.__name__)
            time.sleep(5)

    threading.Thread(target=loop, name="kc-periodic", daemon=True).start()


@click.command("scheduler")
def scheduler_command() -> None:
    """Enqueue the periodic jobs for the RQ workers at their intervals (needs REDIS_URL)."""
    from rq.cron import CronScheduler

    from kontaktcenter.core import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy method
    if app.config["JOBS_MODE"] != "rq":
        raise click.ClickException("The scheduler needs REDIS_URL; without it jobs run in-process.")
    scheduler = CronScheduler(connection=jobs.redis_connection(app), name="kontaktcenter")
    for func, interval in PERIODIC:
        scheduler.register(func, queue_name=app.config["JOB_QUEUE"], interval=interval)
    scheduler.start()


def init_app(app: Flask) -> None:
    app.cli.add_command(scheduler_command)
    if app.config["JOBS_MODE"] != "thread" or not app.config.get("SCHEDULER_ENABLED", True):
        return

    @app.before_request
    def _start_scheduler() -> None:
        if not _started:
            start_in_process(app)

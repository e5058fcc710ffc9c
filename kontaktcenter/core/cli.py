"""Flask commands: create-user, create-token, seed-demo, worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask import Flask, current_app

from kontaktcenter.core.extensions import db

if TYPE_CHECKING:
    pass


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the background jobs (needs REDIS_URL)."""
    from rq import Worker

    from kontaktcenter.core import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy method
    if app.config["JOBS_MODE"] != "rq":
        raise click.ClickException("The worker needs REDIS_URL; without it jobs run in-process.")
    jobs.use_app_for_jobs(app)
    db.engine.dispose()  # never carry pooled connections across fork()
    worker = Worker([jobs.rq_queue(app)], connection=jobs.redis_connection(app))
    worker.work(burst=burst, with_scheduler=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)

"""Flask commands: create-user, create-token, seed-demo, worker."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app

from kontaktcenter.extensions import db
from kontaktcenter.models import Department, Role, User
from kontaktcenter.services import users
from kontaktcenter.services.errors import DomainError


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Lösenord", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default=None, help="Display name (defaults to the e-mail address).")
@click.option("--department", "departments", multiple=True, help="Department name or slug.")
def create_user_command(email: str, role: str, name: str | None, departments: tuple[str, ...]) -> None:
    """Create a staff user. The password is read from a prompt, or from stdin when piped."""
    found = []
    for wanted in departments:
        dept = db.session.scalars(
            sa.select(Department).where(sa.or_(Department.slug == wanted, Department.name == wanted))
        ).first()
        if dept is None:
            raise click.ClickException(f"No department named {wanted!r}.")
        found.append(dept)
    try:
        user = users.create_user(email, name or email, Role(role), _read_password(), found)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {user.email} ({user.role.value}).")


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="API", help="What the token is for, e.g. the telephony platform.")
def create_token_command(email: str, name: str) -> None:
    """Print a new API token for EMAIL's user (shown once; only a hash is stored)."""
    user = db.session.scalars(sa.select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise click.ClickException(f"No user {email!r}.")
    _token, secret = users.create_token(user, name)
    click.echo(secret)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the background jobs (needs REDIS_URL)."""
    from rq import Worker

    from kontaktcenter import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["JOBS_MODE"] != "rq":
        raise click.ClickException("The worker needs REDIS_URL; without it jobs run in-process.")
    db.engine.dispose()  # never carry pooled connections across fork()
    worker = Worker([jobs.rq_queue(app)], connection=jobs.redis_connection(app))
    worker.work(burst=burst, with_scheduler=True)


def init_app(app: Flask) -> None:
    for command in (create_user_command, create_token_command, worker_command):
        app.cli.add_command(command)

"""Flask commands: create-user, create-token, seed-demo, worker."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click
import sqlalchemy as sa
from flask import Flask, current_app

from kontaktcenter.extensions import db
from kontaktcenter.models import Department, Role, User
from kontaktcenter.services import users
from kontaktcenter.services.errors import DomainError

if TYPE_CHECKING:
    from kontaktcenter.services.demo_data import DemoUser


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Lösenord", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default=None, help="Display name (defaults to the e-mail address).")
@click.option("--department", "departments", multiple=True, help="Department name or slug.")
def create_user_command(
    email: str, role: str, name: str | None, departments: tuple[str, ...]
) -> None:
    """Create a staff user. The password is read from a prompt, or from stdin when piped."""
    found = []
    for wanted in departments:
        dept = db.session.scalars(
            sa.select(Department).where(
                sa.or_(Department.slug == wanted, Department.name == wanted)
            )
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


@click.command("seed-demo")
@click.option(
    "--cases",
    "case_count",
    default=300,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="How many cases to spread over the last four weeks.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Seed even though the database has users who are not demo users.",
)
def seed_demo_command(case_count: int, force: bool) -> None:
    """Fill the database with the demo municipality "Exempelby kommun".

    Departments, case types with direct numbers, one login per role and CASES cases from the
    last four weeks. Safe to run again: nothing that exists is duplicated or changed.
    """
    from kontaktcenter.services import demo

    if demo.other_users_exist() and not force:
        raise click.ClickException(
            "The database has users who are not demo users (a real installation?). The demo "
            f"logins share the published password {demo.DEMO_PASSWORD!r}. "
            "Use --force to seed anyway."
        )
    started = time.perf_counter()
    try:
        result = demo.seed_demo(case_count)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(
        f"Exempelby kommun: {result.departments} departments, {result.case_types} case types, "
        f"{result.users} users and {result.cases} cases created "
        f"in {time.perf_counter() - started:.1f} s."
    )
    if result.existing_cases:
        click.echo(f"{result.existing_cases} demo cases were already there; no cases added.")
    logins = demo.demo_logins()
    click.echo(f"\nDemo logins, one per role (password: {demo.DEMO_PASSWORD}):")
    for user in (u for u in logins if u.documented):
        click.echo(f"  {user.email:<28} {user.role.label:<17} {_staff_line(user)}")
    click.echo("Other demo staff (same password):")
    for user in (u for u in logins if not u.documented):
        click.echo(f"  {user.email:<28} {user.role.label:<17} {_staff_line(user)}")


def _staff_line(user: DemoUser) -> str:
    return f"{user.name} ({', '.join(user.departments)})" if user.departments else user.name


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
    for command in (create_user_command, create_token_command, seed_demo_command, worker_command):
        app.cli.add_command(command)

"""Flask commands: create-user, create-token, seed-demo, worker."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click
from flask import Flask

from kontaktcenter.core.errors import DomainError

if TYPE_CHECKING:
    from kontaktcenter.demo.data import DemoUser


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
    from kontaktcenter.demo import seed as demo

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


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)

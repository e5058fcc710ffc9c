"""Flask commands: create-user, create-token, seed-demo, worker."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
import sqlalchemy as sa
from flask import Flask

from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import Department, User

if TYPE_CHECKING:
    pass


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


def init_app(app: Flask) -> None:
    for command in (create_user_command, create_token_command):
        app.cli.add_command(command)

"""``flask calls …``: set up the telephony platform's integration user and its agent ids."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from kontaktcenter.channels.phone import integration
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User

calls_cli = AppGroup("calls", help="The telephony platform's call events.")


def _user(email: str) -> User:
    user = db.session.scalars(sa.select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise click.ClickException(f"No user {email!r}.")
    return user


@calls_cli.command("create-integration")
@click.argument("email")
@click.option("--name", default="Telefoniplattformen", help="The user's display name.")
def create_integration_command(email: str, name: str) -> None:
    """Create the user the platform posts call events as, and print its token (shown once)."""
    try:
        user, secret = integration.create_integration(email, name)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {user.email}; its token (shown once):")
    click.echo(secret)


@calls_cli.command("allow-user")
@click.argument("email")
def allow_user_command(email: str) -> None:
    """Let EMAIL's existing user (its tokens) post call events."""
    integration.mark_integration(_user(email))
    click.echo(f"{email} may post call events.")


@calls_cli.command("map-agent")
@click.argument("platform_agent_id")
@click.argument("email")
def map_agent_command(platform_agent_id: str, email: str) -> None:
    """Name the user the platform means by PLATFORM_AGENT_ID in its events."""
    try:
        integration.map_agent(platform_agent_id, _user(email))
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Agent {platform_agent_id} is {email}.")


def init_app(app: Flask) -> None:
    app.cli.add_command(calls_cli)

"""``flask reports aggregate``: count every finished day for the reports now (the periodic job
does it 400 days at a time; after an upgrade or a bulk import this does all of them at once)."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from kontaktcenter.reports import aggregates

reports_cli = AppGroup("reports", help="Rapporterna.")


@reports_cli.command("aggregate")
def aggregate_command() -> None:
    """Räkna ihop alla avslutade dagar för rapporterna (de som saknas eller har ändrats)."""
    started, total = time.monotonic(), 0
    while done := aggregates.refresh():
        total += done
        click.echo(f"{total} dagar räknade …")
    click.echo(f"{total} dagar räknade på {time.monotonic() - started:.1f} s.")

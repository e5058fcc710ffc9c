"""``flask import-mail PATH...`` and ``flask poll-mail``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask

from kontaktcenter.services.mail_import import ImportSummary, count_sources, iter_sources


@click.command("import-mail")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def import_mail_command(paths: tuple[Path, ...]) -> None:
    """Import .eml files, directories of them, mbox files or Maildirs as e-mail cases."""
    from kontaktcenter.services.mail_intake import ingest

    summary = ImportSummary()
    total = count_sources(list(paths))
    with click.progressbar(length=total, label="Importerar", file=sys.stderr, show_pos=True) as bar:
        for source in iter_sources(list(paths), summary):
            try:
                result = ingest(source.raw)
            except Exception as error:  # noqa: BLE001 - reported; the rest still imports
                from kontaktcenter.extensions import db

                db.session.rollback()
                summary.failed.append((source.label, f"{type(error).__name__}: {error}"))
            else:
                if result.result == "rejected":
                    summary.rejected.append((source.label, result.reason or ""))
                else:
                    setattr(summary, result.result, getattr(summary, result.result) + 1)
            bar.update(1)
    click.echo(
        f"Nya ärenden: {summary.created}, i befintliga ärenden: {summary.joined}, "
        f"dubbletter: {summary.duplicate}, inte kopplade: {len(summary.rejected)}, "
        f"fel: {len(summary.failed)}"
    )
    for label, reason in summary.rejected:
        click.echo(f"  inte kopplat: {label}: {reason}")
    for label, reason in summary.failed:
        click.echo(f"  FEL: {label}: {reason}", err=True)
    if summary.failed:
        raise SystemExit(1)


@click.command("poll-mail")
def poll_mail_command() -> None:
    """Fetch new messages from every active mailbox once."""
    from kontaktcenter.services.imap_poll import poll_all

    for address, outcome in poll_all():
        click.echo(f"{address}: {outcome}")


def init_app(app: Flask) -> None:
    app.cli.add_command(import_mail_command)
    app.cli.add_command(poll_mail_command)

"""``flask import-mail PATH...`` and ``flask poll-mail``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app

from kontaktcenter.channels.email.files import ImportSummary, count_sources, iter_sources


@click.command("import-mail")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--keep-received-time",
    is_flag=True,
    help="History from an old system: each message keeps the time it was received (its "
    "Received or Date header) instead of the time of the import; its case is closed at once, "
    "without service goals and without a receipt.",
)
def import_mail_command(paths: tuple[Path, ...], keep_received_time: bool) -> None:
    """Import .eml files, directories of them, mbox files or Maildirs as e-mail cases."""
    from kontaktcenter.channels.email.intake import batches, ingest_batch
    from kontaktcenter.channels.email.parse_ahead import ParseAhead
    from kontaktcenter.core import jobs
    from kontaktcenter.core.extensions import db

    summary = ImportSummary()
    accepted = 0  # large messages stored first, filed by a job
    total = count_sources(list(paths))
    sources = ((source.label, source.raw) for source in iter_sources(list(paths), summary))
    config = current_app.config
    ahead = ParseAhead(config["MAIL_ASYNC_BYTES"], enabled=config["MAIL_PARSE_AHEAD"])
    progress = click.progressbar(length=total, label="Importerar", file=sys.stderr, show_pos=True)
    with progress as bar, ahead:
        for group, parsed in ahead.groups(batches(sources)):
            try:
                results = ingest_batch(
                    [raw for _label, raw in group],
                    keep_received_time=keep_received_time,
                    parsed=parsed,
                )
            except Exception as error:  # noqa: BLE001 - reported; the rest still imports
                db.session.rollback()
                reason = f"{type(error).__name__}: {error}"
                summary.failed.extend((label, reason) for label, _raw in group)
            else:
                for (label, _raw), result in zip(group, results, strict=True):
                    if result.result == "rejected":
                        summary.rejected.append((label, result.reason or ""))
                    elif result.result == "accepted":
                        accepted += 1
                    else:
                        setattr(summary, result.result, getattr(summary, result.result) + 1)
            bar.update(len(group))
    click.echo(
        f"Nya ärenden: {summary.created}, i befintliga ärenden: {summary.joined}, "
        f"dubbletter: {summary.duplicate}, inte kopplade: {len(summary.rejected)}, "
        f"fel: {len(summary.failed)}"
    )
    db.session.close()  # hold no read transaction (SQLite: a lock) while the jobs write
    if not jobs.drain():  # receipts and large messages (embedded default: this process)
        click.echo("Allt efterarbete hann inte bli klart; det görs när appen körs nästa gång.")
    if accepted:
        click.echo(f"Stora meddelanden som sparats och behandlas i bakgrunden: {accepted}")
    for label, reason in summary.rejected:
        click.echo(f"  inte kopplat: {label}: {reason}")
    for label, reason in summary.failed:
        click.echo(f"  FEL: {label}: {reason}", err=True)
    if summary.failed:
        raise SystemExit(1)


@click.command("poll-mail")
def poll_mail_command() -> None:
    """Fetch new messages from every active mailbox once."""
    from kontaktcenter.channels.email.imap import poll_all

    for address, outcome in poll_all():
        click.echo(f"{address}: {outcome}")


def init_app(app: Flask) -> None:
    app.cli.add_command(import_mail_command)
    app.cli.add_command(poll_mail_command)

"""``flask gallring``: a dry run or a real run of the gallring from the command line.

The real run works in this process, batch by batch (each committed): interrupt it and run
``flask gallring --resume ID`` (or again ``--run``, which starts after the gallrad cases) to go on.
"""

from __future__ import annotations

import click
from flask import Flask

from kontaktcenter.compliance import retention
from kontaktcenter.compliance.retention_models import SKIP_REASONS, RetentionRun, RunState
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db


def _report(run: RetentionRun) -> None:
    verb = "skulle gallras" if run.dry_run else "gallrade"
    click.echo(
        f"Körning {run.id} ({'provkörning' if run.dry_run else 'gallring'}): {run.state.label}"
    )
    for part in run.counts.values():
        click.echo(f"  {part['rule']}: {part['total']} {verb}")
        for name, n in sorted(part["case_types"].items()):
            click.echo(f"    {name}: {n}")
    for reason, n in sorted(run.skipped.items()):
        click.echo(f"  Spärrade ({SKIP_REASONS.get(reason, reason)}): {n}")
    if run.sample:
        click.echo("  Exempel: " + ", ".join(s["reference"] for s in run.sample[:10]))
    if run.error:
        click.echo(f"  Fel: {run.error}")


@click.command("gallring")
@click.option("--dry-run", "mode", flag_value="dry", help="Visa vad som skulle gallras.")
@click.option("--run", "mode", flag_value="run", help="Gallra ärendena som är förfallna.")
@click.option("--resume", "resume_id", type=int, help="Fortsätt en avbruten körning (id).")
def gallring_command(mode: str | None, resume_id: int | None) -> None:
    """Gallring (retention): dry run, real run, or resume an interrupted run."""
    if resume_id is not None:
        run = db.session.get(RetentionRun, resume_id)
        if run is None or run.dry_run:
            raise click.ClickException(f"Ingen gallringskörning med id {resume_id}.")
        if run.state == RunState.FAILED:
            run.state = RunState.RUNNING
            run.error = None
            db.session.commit()
        run_id = run.id
    elif mode is None:
        raise click.UsageError("Ange --dry-run, --run eller --resume ID.")
    else:
        try:
            run_id = retention.start(
                dry_run=mode == "dry", trigger="cli", by=None, dispatch=False
            ).id
        except DomainError as error:
            raise click.ClickException(error.message) from None

    def progress(current: RetentionRun) -> None:
        click.echo(
            f"  … {current.processed} gallrade hittills (till ärende-id {current.last_case_id})"
        )

    retention.run_to_end(run_id, progress)
    db.session.expire_all()
    run = db.session.get(RetentionRun, run_id)
    assert run is not None
    _report(run)
    if run.state == RunState.FAILED:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(gallring_command)

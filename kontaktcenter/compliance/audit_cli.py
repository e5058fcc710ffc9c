"""``flask audit verify | seal | purge``: the audit log's chain from the command line."""

from __future__ import annotations

import click

from kontaktcenter.core import audit_chain


@click.group("audit")
def audit_group() -> None:
    """The audit log (granskningsloggen): its hash chain and retention."""


@audit_group.command("verify")
def verify_command() -> None:
    """Seal new events, then check the whole chain; exit 1 if it is broken."""
    result = audit_chain.verify()
    if result.intact:
        click.echo(
            f"intact: {result.checked} events checked (seq {result.first_seq or '-'}"
            f"–{result.last_seq})"
        )
        return
    click.echo(f"BROKEN at seq {result.broken_seq}: {result.problem}", err=True)
    raise SystemExit(1)


@audit_group.command("seal")
def seal_command() -> None:
    """Chain the events not sealed yet (the periodic job does this every minute)."""
    click.echo(f"sealed {audit_chain.seal()} events")


@audit_group.command("purge")
@click.option("--months", type=click.IntRange(min=1), default=None, help="default: the setting")
def purge_command(months: int | None) -> None:
    """Remove events older than AUDIT_RETENTION_MONTHS (the nightly job does this too)."""
    click.echo(f"purged {audit_chain.purge(months=months)} events")

"""``flask search reindex``: (re)build the search documents, resumable, batch by batch."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from kontaktcenter.search.indexing import reindex

search = AppGroup("search", help="Sökindexet.")


@search.command("reindex")
@click.option(
    "--missing",
    is_flag=True,
    help="Bara ärenden som saknas i indexet (efter en uppgradering eller en bulkladdning).",
)
@click.option("--batch", default=2000, show_default=True, help="Ärenden per transaktion.")
def reindex_command(missing: bool, batch: int) -> None:
    """Indexera om ärendena för sökningen."""
    started = time.monotonic()
    done = reindex(missing_only=missing, batch=batch)
    click.echo(f"{done} ärenden indexerade på {time.monotonic() - started:.1f} s.")

"""Distribution's jobs: assign a new item (outbox), and the sweep (outbox after an agent became
available, and every minute)."""

from __future__ import annotations

from kontaktcenter.core import jobs, outbox
from kontaktcenter.distribution import assignment


@outbox.task("distribution.assign")
def assign(kind: str, item_id: int) -> None:
    """Idempotent: an item no longer waiting (or given out by an earlier run) is left alone."""
    if kind in ("case", "callback"):
        assignment.assign("case" if kind == "case" else "callback", item_id)


@outbox.task("distribution.sweep")
def sweep() -> None:
    assignment.sweep()


@jobs.app_job
def sweep_job() -> None:
    """Every minute: items that found nobody available, and agents whose browser closed."""
    assignment.sweep()

"""Panels that higher areas add to the case page's side column (diarium, retention, access log…).

The case page belongs to ``workspace``; areas above it (``compliance``) cannot be imported by
it, so they register a panel here in their ``init_app``: a template and a function that gives
the template's context for a user and a case, or ``None`` when the panel is not for them.

Most cases have nothing for most panels (no callback, no call, no diarium entry, no hold), yet
asking costs a statement each (issue #16). A panel that reads rows of its own may give a
*probe*: an SQL truth value about the case (``cases.id``) such as an EXISTS on its table. The
page reads every probe in the case's own SELECT (:func:`probe_columns`); when a probe is false
the panel's ``absent`` function gives its context instead (without reading), or it is not shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class CasePanel:
    key: str
    template: str
    context: Callable[[Any, Any], dict[str, Any] | None]  # (user, case) -> context or None
    order: int = 50
    # SQL: whether the case (cases.id) has what `context` reads; false: `absent` is used
    probe: Callable[[], sa.ColumnElement[bool]] | None = None
    # the context when the probe is false, read from nothing but the case (None: not shown)
    absent: Callable[[Any, Any], dict[str, Any] | None] | None = None


@dataclass(frozen=True)
class ShownPanel:
    template: str
    context: dict[str, Any]


_panels: dict[str, CasePanel] = {}


def add_panel(panel: CasePanel) -> None:
    _panels[panel.key] = panel


def keys() -> tuple[str, ...]:
    """The registered panels' keys, sorted: what :func:`probe_columns` depends on."""
    return tuple(sorted(_panels))


def probe_columns() -> tuple[sa.Label[bool], ...]:
    """The registered panels' probes, each labelled by its panel's key, in a stable order: to
    add to a SELECT of ``cases`` (one row per case) and give to :func:`panels_for`."""
    return tuple(
        panel.probe().label(f"panel_{panel.key}")
        for panel in sorted(_panels.values(), key=lambda p: p.key)
        if panel.probe is not None
    )


def probed(row: Any) -> dict[str, bool]:
    """{panel key: probe's value} from a row with :func:`probe_columns`."""
    values = row._mapping
    return {
        key: bool(values[f"panel_{key}"])
        for key, panel in _panels.items()
        if panel.probe is not None and f"panel_{key}" in values
    }


def panels_for(user: Any, case: Any, present: Mapping[str, bool] | None = None) -> list[ShownPanel]:
    """The panels `user` sees on `case`'s page, in order. `present`: the probes' values read
    with the case (:func:`probed`); a panel whose probe is missing there reads as usual."""
    shown = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        if present is not None and present.get(panel.key, True) is False:
            context = panel.absent(user, case) if panel.absent is not None else None
        else:
            context = panel.context(user, case)
        if context is not None:
            shown.append(ShownPanel(panel.template, context))
    return shown

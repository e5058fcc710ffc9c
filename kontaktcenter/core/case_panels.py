"""Panels that higher areas add to the case page's side column (diarium, retention, access log…).

The case page belongs to ``workspace``; areas above it (``compliance``) cannot be imported by
it, so they register a panel here in their ``init_app``: a template and a function that gives
the template's context for a user and a case, or ``None`` when the panel is not for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CasePanel:
    key: str
    template: str
    context: Callable[[Any, Any], dict[str, Any] | None]  # (user, case) -> context or None
    order: int = 50


@dataclass(frozen=True)
class ShownPanel:
    template: str
    context: dict[str, Any]


_panels: dict[str, CasePanel] = {}


def add_panel(panel: CasePanel) -> None:
    _panels[panel.key] = panel


def panels_for(user: Any, case: Any) -> list[ShownPanel]:
    """The panels `user` sees on `case`'s page, in order."""
    shown = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(user, case)
        if context is not None:
            shown.append(ShownPanel(panel.template, context))
    return shown

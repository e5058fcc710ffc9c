"""HTML that depends only on a few values, rendered once per process and kept (issue #16).

A form nobody has filled in renders the same for the same lists and the same current value: the
case page's action forms, its secrecy ground list, its diarium marking. Rendering them through
WTForms and Jinja on every view was a third of the page's work; keyed by what they depend on,
they are rendered once. The key must hold everything the HTML depends on (never a CSRF token or
a case's version: those go in inputs of their own, outside the kept HTML).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, render_template, request
from markupsafe import Markup

_KEY = "kontaktcenter.rendered"
MAX_KEPT = 1024  # kinds of fragment × the values and lists in use: few


def once(key: tuple[object, ...], render: Callable[[], str]) -> Markup:
    """`render()`'s HTML for `key`: rendered on the first use in this process, then kept.
    With templates reloaded on change (a developer's server) nothing is kept."""
    if current_app.jinja_env.auto_reload:
        return Markup(render())
    kept: dict[tuple[object, ...], Markup] = current_app.extensions.setdefault(_KEY, {})
    html = kept.get(key)
    if html is None:
        html = Markup(render())
        if len(kept) >= MAX_KEPT:
            kept.clear()
        kept[key] = html
    return html


def template(name: str, *key: object) -> Markup:
    """The template `name` rendered once per process for each `key` and mount point: for a
    part of every page that depends on nothing else (``{{ kept("calls/_screen_pop.html",
    role) }}`` in base.html). The template must say so in its first comment."""
    return once(("template", name, request.script_root, *key), lambda: render_template(name))

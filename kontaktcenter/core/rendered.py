"""HTML that depends only on a few values, rendered once per process and kept (issue #16).

A form nobody has filled in renders the same for the same lists and the same current value: the
case page's action forms, its secrecy ground list, its diarium marking. Rendering them through
WTForms and Jinja on every view was a third of the page's work; keyed by what they depend on,
they are rendered once. The key must hold everything the HTML depends on (never a CSRF token or
a case's version: those go in inputs of their own, outside the kept HTML).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

from flask import current_app, render_template, request, url_for
from markupsafe import Markup, escape

_KEY = "kontaktcenter.rendered"
MAX_BYTES = 16 * 1024 * 1024  # per process; the least recently used go first beyond it


class _Kept:
    """HTML by key, least recently used first out once the characters kept pass MAX_BYTES
    (an actions section with long lists is tens of kB, a menu one)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.items: OrderedDict[tuple[object, ...], Markup] = OrderedDict()
        self.lock = threading.Lock()  # gthread workers share the process

    def get(self, key: tuple[object, ...]) -> Markup | None:
        with self.lock:
            html = self.items.get(key)
            if html is not None:
                self.items.move_to_end(key)
            return html

    def put(self, key: tuple[object, ...], html: Markup) -> None:
        with self.lock:
            previous = self.items.pop(key, None)
            if previous is not None:
                self.size -= len(previous)
            self.items[key] = html
            self.size += len(html)
            while self.size > self.limit and len(self.items) > 1:
                _key, dropped = self.items.popitem(last=False)
                self.size -= len(dropped)


def once(key: tuple[object, ...], render: Callable[[], str]) -> Markup:
    """`render()`'s HTML for `key`: rendered on the first use in this process, then kept.
    With templates reloaded on change (a developer's server) nothing is kept."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # once, not per use
    if app.jinja_env.auto_reload:
        return Markup(render())
    kept: _Kept | None = app.extensions.get(_KEY)
    if kept is None:
        kept = app.extensions.setdefault(_KEY, _Kept(MAX_BYTES))
    html = kept.get(key)
    if html is None:
        html = Markup(render())
        kept.put(key, html)
    return html


def slot(name: str) -> str:
    """A placeholder in kept HTML for a value that differs between pages (a CSRF token, an
    address), put in by :func:`once_filled`. NUL delimits it. Kept HTML is rendered from
    arguments without NUL (names, lists, URLs we build), but a value put in may hold one (a
    request's path may carry %00): so the values go in in one pass, never searched again."""
    return f"\x00{name}\x00"


_SLOT = re.compile("\x00([a-z_]+)\x00")


def once_filled(
    key: tuple[object, ...], render: Callable[[], str], values: Mapping[str, object]
) -> Markup:
    """:func:`once`, with each ``slot(name)`` of `values` replaced by its value, escaped (HTML
    given as Markup goes in as it is). `render` writes the slots where the values go."""
    escaped = {name: str(escape(value)) for name, value in values.items()}

    def put(match: re.Match[str]) -> str:
        return escaped.get(match[1], match[0])

    html = _SLOT.sub(put, str(once(key, render)))
    return Markup(html)  # noqa: S704 - kept HTML from a template, with escaped values put in


def static_url(filename: str) -> Markup:
    """``url_for("static", filename=filename)``, kept per mount point: every page links its
    style sheet and scripts (a URL that url_for has quoted: safe in an attribute)."""
    return once(
        ("static-url", request.script_root, filename),
        lambda: url_for("static", filename=filename),
    )


def template(name: str, *key: object) -> Markup:
    """The template `name` rendered once per process for each `key` and mount point: for a
    part of every page that depends on nothing else (``{{ kept("calls/_screen_pop.html",
    role) }}`` in base.html). The template must say so in its first comment."""
    return once(("template", name, request.script_root, *key), lambda: render_template(name))

"""Search: a case by reference, a person by any identifier or a misspelt name, any case by its
words (PostgreSQL full-text and trigram indexes, SQLite FTS5), with the index kept in the
transaction that changes the case."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from kontaktcenter.search import bound, cli, indexing, views

    assert indexing  # its session hooks keep the index
    # Read once here, not on each of a page's ~30 statement look-ups (the tests turn it on).
    bound.CHECK_SHAPES = bool(app.config.get("SEARCH_CHECK_SHAPES"))
    # The hit list decides secrecy in Python (search.hit_list); the templates' sees_content and
    # secrecy_masked are workspace's (workspace.secrecy_globals).
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.search)

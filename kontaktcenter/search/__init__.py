"""Search: a case by reference, a person by any identifier or a misspelt name, any case by its
words (PostgreSQL full-text and trigram indexes, SQLite FTS5), with the index kept in the
transaction that changes the case."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from kontaktcenter.search import cli, indexing, views

    assert indexing  # its session hooks keep the index
    from kontaktcenter.cases import access, secrecy

    # The hit list shows another department's secret case by its register fields only.
    app.jinja_env.globals.update(
        sees_content=access.sees_content_in_template,
        secrecy_masked=secrecy.masked_text,
    )
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.search)

"""The SQL statements a piece of code sends: the counter the read and write path tests share
(issue #16: statements per request are what those tests hold down)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from kontaktcenter.core.extensions import db

# A test's commits become savepoints (tests/conftest.py): not the code's own statements.
_TESTS_OWN = ("SAVEPOINT", "RELEASE", "ROLLBACK")


@contextmanager
def statements(*, ours_only: bool = False) -> Iterator[list[str]]:
    """Every statement sent meanwhile, its whitespace collapsed; with `ours_only`, without
    the savepoints the test's own transaction turns commits into."""
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if not (ours_only and statement.startswith(_TESTS_OWN)):
            sent.append(" ".join(statement.split()))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)

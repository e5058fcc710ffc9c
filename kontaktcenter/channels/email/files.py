"""Reading messages from files for ``flask import-mail``: .eml files, directories of them,
mbox files and Maildirs (stdlib `mailbox`), each message's bytes untouched."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Source:
    label: str  # for the summary: file name, or mbox#n
    raw: bytes


@dataclass
class ImportSummary:
    created: int = 0
    joined: int = 0
    duplicate: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # real failures: unreadable file…


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_sources(paths: list[Path], summary: ImportSummary) -> Iterator[Source]:
    for path in paths:
        if not path.exists():
            summary.failed.append((str(path), "finns inte"))
        elif _is_maildir(path):
            maildir = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(maildir.keys()):
                with maildir.get_file(key) as handle:
                    yield Source(f"{path}/{key}", handle.read())
        elif path.is_dir():
            yield from iter_sources(
                sorted(p for p in path.iterdir() if not p.name.startswith(".")), summary
            )
        elif path.suffix.lower() == ".eml" or not _is_mbox(path):
            try:
                yield Source(str(path), path.read_bytes())
            except OSError as error:
                summary.failed.append((str(path), str(error)))
        else:
            box = mailbox.mbox(path, factory=None, create=False)
            try:
                for index, key in enumerate(box.keys()):
                    with box.get_file(key) as handle:
                        yield Source(f"{path}#{index + 1}", handle.read())
            finally:
                box.close()


def count_sources(paths: list[Path]) -> int:
    return sum(1 for _ in iter_sources(paths, ImportSummary()))

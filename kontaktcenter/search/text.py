"""Words, stems, trigrams and snippets: the text side of search, pure Python.

Both databases index the same thing: the Swedish Snowball stems of a case's words, computed
here with ``snowballstemmer`` (Snowball 3, which reduces "bygglovet" to "bygglov"; the
Swedish dictionary of PostgreSQL 15 does not). PostgreSQL indexes them as a ``simple``
tsvector, SQLite with FTS5; a query stem matches as a prefix, so "bygglov" also finds the
compound "bygglovsansökan". Misspelt names are matched by trigram similarity, computed the
way ``pg_trgm`` does it so SQLite ranks them as PostgreSQL does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# Letters and digits: "KC-2026-000303" is three words, "åtgärd" one.
_WORD = re.compile(r"[^\W_]+")
MAX_WORD = 40  # longer "words" are base64 or URLs, not language
MAX_QUERY_WORDS = 8
_stemmer = snowballstemmer.stemmer("swedish")


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) <= MAX_WORD]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def stems_text(text: str) -> str:
    """What the full-text index holds for `text`: its stems, space-separated, in order."""
    return " ".join(stem(w) for w in words(text))


def query_stems(text: str) -> list[str]:
    """The distinct stems of a query, in order, at most MAX_QUERY_WORDS."""
    seen: dict[str, None] = {}
    for word in words(text):
        seen.setdefault(stem(word), None)
    return list(seen)[:MAX_QUERY_WORDS]


# --- trigrams (pg_trgm's definition) ---------------------------------------------------------


@lru_cache(maxsize=65536)
def trigrams(text: str) -> frozenset[str]:
    """pg_trgm's trigrams: each word padded with two spaces in front and one behind. Cached:
    a search compares one query with the same few name words again and again."""
    result: set[str] = set()
    for word in words(text):
        padded = f"  {word} "
        result.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(result)


def similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def word_similarity(query: str, text: str) -> float:
    """How well `query` matches the best-matching word of `text` (a name's surname, say)."""
    return max((similarity(query, word) for word in words(text)), default=0.0)


# --- snippets ---------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _candidates(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    """The words that can match: those that begin with one of the stems. The Swedish stemmer
    only takes endings off, so a word whose stem begins with a stem begins with it too; only
    these are stemmed, not every word of a long e-mail body."""
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*", re.IGNORECASE)


@dataclass(frozen=True)
class Fragment:
    text: str
    match: bool


def snippet(text: str, stems: list[str], width: int = 160) -> list[Fragment]:
    """A piece of `text` around its first matching word, the matching words marked.

    A word matches when its stem starts with one of `stems` (the query's, as searched). The
    caller escapes the fragments (Jinja does): nothing here produces markup.
    """
    if not text:
        return []
    text = " ".join(text.split())
    prefixes = tuple(stems)  # str.startswith takes them all at once
    spans = (
        [
            (m.start(), m.end())
            for m in _candidates(prefixes).finditer(text)
            if stem(m.group().lower()).startswith(prefixes)
        ]
        if prefixes
        else []
    )
    start = 0
    if spans and spans[0][0] > width // 3:
        start = text.rfind(" ", 0, spans[0][0] - width // 3) + 1
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    fragments: list[Fragment] = []
    if start > 0:
        fragments.append(Fragment("… ", False))
    position = start
    for span_start, span_end in spans:
        if span_start < position or span_end > end:
            continue
        if span_start > position:
            fragments.append(Fragment(text[position:span_start], False))
        fragments.append(Fragment(text[span_start:span_end], True))
        position = span_end
    if position < end:
        fragments.append(Fragment(text[position:end], False))
    if end < len(text):
        fragments.append(Fragment(" …", False))
    return fragments

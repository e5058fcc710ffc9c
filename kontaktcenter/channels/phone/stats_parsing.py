"""Reading the phone platform's per-call statistics CSV (issue #14): headers, delimiters,
encodings, times, seconds and outcomes, every row checked (stats_import.py stores them).

A platform's statistics export has one row per call: call id, start, queue, caller, waited
seconds, answered or abandoned, talk seconds, agent. Header names differ between platforms, so
:data:`ALIASES` maps the Swedish and English names they use (docs/phone-statistics.md lists
them). The delimiter (``;`` or ``,``) is sniffed, the text is UTF-8 (with or without a BOM) or
Windows-1252, and a time without an offset is Europe/Stockholm time. A bad file is refused with
every error and its line number (:class:`ImportRejected`), never with a crash.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.organisation.models import User

if TYPE_CHECKING:
    import _csv

TZ = ZoneInfo("Europe/Stockholm")
MAX_BYTES = 10 * 1024 * 1024  # about 100,000 rows of a typical export
MAX_ROWS = 20_000  # 50,000 took 29-48 s on PostgreSQL (review R3): near the 60 s timeout
MAX_ERRORS = 50  # listed; the count says how many there were
MAX_SECONDS = 86_400
FIRST_YEAR, LAST_YEAR = 2000, 2100  # a start outside these is a mistake in the file


# Header names as platforms write them, after :func:`_header_key` (lower case, units in
# parentheses and punctuation dropped). The first name of each is ours.
ALIASES: dict[str, tuple[str, ...]] = {
    "call_id": (
        "call id", "callid", "samtals id", "samtalsid", "samtal id", "id", "contact id",
        "contactid", "interaction id", "session id", "uniqueid", "linkedid", "ärende id",
    ),
    "start": (
        "start", "start time", "starttime", "starttid", "started", "call start", "samtalsstart",
        "datum och tid", "datum tid", "tid", "time", "timestamp", "calldate", "date time",
        "datetime", "inkommet", "received", "anropstid",
    ),
    "queue": ("queue", "queue name", "kö", "könamn", "kö namn", "skill", "service", "tjänst",
              "grupp", "group"),
    "caller": (
        "caller", "caller id", "callerid", "calling number", "a nummer", "anummer", "from",
        "från", "ringande", "uppringare", "telefonnummer", "nummer", "ani", "src",
    ),
    "wait": (
        "waited", "wait", "wait seconds", "waited seconds", "wait time", "queue time",
        "queue wait", "queue wait seconds", "time in queue", "kötid", "väntetid", "tid i kö",
    ),
    "outcome": (
        "answered abandoned", "outcome", "result", "status", "disposition", "utfall",
        "resultat", "besvarat", "answered",
    ),
    "talk": (
        "talk", "talk time", "talk seconds", "talktime", "billsec", "samtalstid", "taltid",
        "samtalslängd", "handled time",
    ),
    "agent": (
        "agent", "agent email", "agent e post", "agent id", "agentid", "handläggare",
        "kommunvägledare", "besvarad av", "answered by", "user", "användare", "medarbetare",
    ),
}  # fmt: skip
REQUIRED = ("call_id", "start", "outcome")
LABELS = {
    "call_id": "samtals-id",
    "start": "starttid",
    "queue": "kö",
    "caller": "nummer",
    "wait": "kötid",
    "outcome": "besvarat/avbrutet",
    "talk": "samtalstid",
    "agent": "handläggare",
}
ANSWERED = frozenset(
    {"answered", "besvarat", "besvarad", "svarat", "ja", "yes", "true", "1", "connected",
     "handled", "completed", "ok"}
)  # fmt: skip
# Busy, failed and congestion: an Asterisk CDR's dispositions for a call nobody answered.
ABANDONED = frozenset(
    {"abandoned", "avbrutet", "avbruten", "avbrutit", "nej", "no", "false", "0", "no answer",
     "noanswer", "missed", "missat", "tappat", "lagt på", "hung up", "unanswered", "obesvarat",
     "busy", "failed", "congestion", "upptaget", "misslyckat"}
)  # fmt: skip
_HEADER_UNIT = re.compile(r"\([^)]*\)|\[[^]]*\]")
_NOT_WORD = re.compile(r"[^\wåäö]+")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")


def _header_key(name: str) -> str:
    text = _HEADER_UNIT.sub(" ", name.strip().lstrip("\ufeff").lower())
    return " ".join(_NOT_WORD.sub(" ", text).replace("_", " ").split())


_BY_HEADER = {alias: key for key, names in ALIASES.items() for alias in names}


@dataclass(frozen=True)
class RowError:
    line: int  # in the file (the header is line 1); 0: the file as a whole
    field: str | None
    message: str


class ImportRejected(ValidationError):
    """The file was not imported: every error found, with line numbers."""

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        self.errors = errors[:MAX_ERRORS]
        self.total = total if total is not None else len(errors)
        first = errors[0]
        where = f"Rad {first.line}: " if first.line else ""
        super().__init__(
            f"Filen importerades inte ({self.total} fel). {where}{first.message}", "file"
        )


@dataclass
class Row:
    line: int
    call_id: str
    started_at: datetime
    answered: bool
    queue: str | None = None
    caller: str | None = None
    wait_seconds: int | None = None
    talk_seconds: int | None = None
    agent_ref: str | None = None
    agent: User | None = None


# --- reading the file --------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or, when the bytes are not UTF-8, Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,\t")
    except csv.Error:
        header = text.split("\n", 1)[0]
        return csv.excel if header.count(",") > header.count(";") else _Semicolon


class _Semicolon(csv.excel):
    delimiter = ";"


def check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise ImportRejected([RowError(0, "file", f"Filen är större än {MAX_BYTES // 2**20} MB.")])


def parse(data: bytes) -> list[Row]:
    """Every row of the file, checked; raises ImportRejected with all errors found."""
    check_size(len(data))
    if b"\x00" in data:
        raise ImportRejected(
            [
                RowError(
                    0,
                    "file",
                    "Filen innehåller nolltecken och är troligen sparad som UTF-16 (”Unicode”). "
                    "Spara den som CSV i UTF-8 och försök igen.",
                )
            ]
        )
    text = decode(data)
    if not text.strip():
        raise ImportRejected([RowError(0, "file", "Filen är tom.")])
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        return _rows(reader)
    except csv.Error as error:  # a field over the csv module's limit, a stray quote at the end
        raise ImportRejected(
            [RowError(reader.line_num, "file", f"Raden går inte att läsa som CSV ({error}).")]
        ) from None


def _rows(reader: _csv.Reader) -> list[Row]:
    header = next(reader)
    columns: dict[str, int] = {}
    errors: list[RowError] = []
    for index, name in enumerate(header):
        key = _BY_HEADER.get(_header_key(name))
        if key is not None and key not in columns:
            columns[key] = index
    missing = [LABELS[key] for key in REQUIRED if key not in columns]
    if missing:
        raise ImportRejected(
            [
                RowError(
                    1,
                    "file",
                    "Kolumner saknas: " + ", ".join(missing) + ". Se docs/phone-statistics.md "
                    "för vilka rubriker som känns igen.",
                )
            ]
        )
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise ImportRejected([RowError(line, "file", f"Filen har fler än {MAX_ROWS} rader.")])
        try:
            row = _row(line, values, columns)
        except ValidationError as error:
            errors.append(RowError(line, error.field, error.message))
            continue
        if row.call_id in seen:
            errors.append(
                RowError(
                    line,
                    "call_id",
                    f"Samtals-id {row.call_id} finns redan på rad {seen[row.call_id]}.",
                )
            )
            continue
        seen[row.call_id] = line
        rows.append(row)
    if errors:
        raise ImportRejected(errors)
    if not rows:
        raise ImportRejected([RowError(0, "file", "Filen har inga samtal.")])
    return rows


def _row(line: int, values: list[str], columns: dict[str, int]) -> Row:
    def value(key: str) -> str:
        index = columns.get(key)
        return values[index].strip() if index is not None and index < len(values) else ""

    call_id = value("call_id")
    if not call_id:
        raise ValidationError("Samtals-id saknas.", "call_id")
    if len(call_id) > 100:
        raise ValidationError("Samtals-id är längre än 100 tecken.", "call_id")
    answered = _outcome(value("outcome"))
    talk = _seconds(value("talk"), "talk")
    agent_ref = value("agent")[:254] or None
    return Row(
        line=line,
        call_id=call_id,
        started_at=parse_time(value("start")),
        answered=answered,
        queue=value("queue")[:100] or None,
        caller=value("caller")[:64] or None,
        wait_seconds=_seconds(value("wait"), "wait"),
        talk_seconds=talk if answered else None,
        agent_ref=agent_ref if answered else None,
    )


def _outcome(text: str) -> bool:
    word = " ".join(text.lower().replace("_", " ").replace("-", " ").split())
    if word in ANSWERED:
        return True
    if word in ABANDONED:
        return False
    if not word:
        raise ValidationError("Besvarat eller avbrutet saknas.", "outcome")
    raise ValidationError(
        f"Okänt utfall ”{text[:40]}”: ange besvarat (answered) eller avbrutet (abandoned).",
        "outcome",
    )


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-11-16 09:30:05``, ``…T09:30:05+01:00``, ``…Z``); without an
    offset it is Europe/Stockholm time."""
    if not text:
        raise ValidationError("Starttid saknas.", "start")
    try:
        at = datetime.fromisoformat(text.replace("/", "-"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=TZ)
        at = at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(
            f"Starttiden ”{text[:40]}” går inte att läsa: skriv ÅÅÅÅ-MM-DD TT:MM:SS.", "start"
        ) from None
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise ValidationError(
            f"Starttiden ”{text[:40]}” ligger inte mellan år {FIRST_YEAR} och {LAST_YEAR}.", "start"
        )
    return at


def _seconds(text: str, name: str) -> int | None:
    """Seconds as ``38``, ``38,5`` or ``00:00:38``; empty: not known."""
    if not text:
        return None
    label = LABELS[name].capitalize()
    clock = _CLOCK.match(text)
    try:
        if clock:
            seconds = int(clock[1] or 0) * 3600 + int(clock[2]) * 60 + int(clock[3])
        else:
            number = float(text.replace(",", ".").replace(" ", ""))
            if not math.isfinite(number):
                raise ValueError(text)
            seconds = round(number)
    except (ValueError, OverflowError):
        raise ValidationError(f"{label} ”{text[:20]}” är inget antal sekunder.", name) from None
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValidationError(f"{label} måste vara mellan 0 och {MAX_SECONDS} sekunder.", name)
    return seconds

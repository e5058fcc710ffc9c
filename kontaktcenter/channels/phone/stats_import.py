"""Import per-call statistics from the phone platform as CSV (issue #14, phone statistics).

A platform's statistics export has one row per call: call id, start, queue, caller, waited
seconds, answered or abandoned, talk seconds, agent. Header names differ between platforms, so
:data:`ALIASES` maps the Swedish and English names they use (docs/phone-statistics.md lists
them). The delimiter (``;`` or ``,``) is sniffed, the text is UTF-8 (with or without a BOM) or
Windows-1252, and a time without an offset is Europe/Stockholm time.

All or nothing: every row is checked before anything is stored, and the errors come back with
their line numbers. Rows are upserted by the platform's call id into ``calls`` (a call known from
its events is the same row) and the file's values are kept in ``call_statistics``: the events
win where both have a value, the file fills the gaps. Importing the same file again changes
nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.call_events import parse_number
from kontaktcenter.channels.phone.models import Call, CallState
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import Model, UTCDateTime, db, upsert, utcnow
from kontaktcenter.organisation.models import User

TZ = ZoneInfo("Europe/Stockholm")
MAX_BYTES = 10 * 1024 * 1024  # about 100,000 rows of a typical export
MAX_ROWS = 50_000
MAX_ERRORS = 50  # listed; the count says how many there were
MAX_SECONDS = 86_400
CHUNK = 500


class CallStatistic(Model):
    """What the platform's statistics file said about one call."""

    __tablename__ = "call_statistics"

    call_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    queue: Mapped[str | None] = mapped_column(sa.String(100))
    wait_seconds: Mapped[int | None] = mapped_column()
    answered: Mapped[bool] = mapped_column()
    talk_seconds: Mapped[int | None] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    agent_ref: Mapped[str | None] = mapped_column(sa.String(254))  # as in the file
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
ABANDONED = frozenset(
    {"abandoned", "avbrutet", "avbruten", "avbrutit", "nej", "no", "false", "0", "no answer",
     "noanswer", "missed", "missat", "tappat", "lagt på", "hung up", "unanswered", "obesvarat"}
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


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0  # calls nobody knew
    updated: int = 0  # calls known from events or an earlier file, now with more facts
    unchanged: int = 0
    unknown_agents: list[str] = field(default_factory=list)


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
    text = decode(data)
    if not text.strip():
        raise ImportRejected([RowError(0, "file", "Filen är tom.")])
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
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
    except ValueError:
        raise ValidationError(
            f"Starttiden ”{text[:40]}” går inte att läsa: skriv ÅÅÅÅ-MM-DD TT:MM:SS.", "start"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=TZ)
    return at.astimezone(UTC)


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
            seconds = round(float(text.replace(",", ".").replace(" ", "")))
    except ValueError:
        raise ValidationError(f"{label} ”{text[:20]}” är inget antal sekunder.", name) from None
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValidationError(f"{label} måste vara mellan 0 och {MAX_SECONDS} sekunder.", name)
    return seconds


# --- storing it --------------------------------------------------------------------------------


def import_statistics(data: bytes) -> ImportResult:
    """Check the whole file, then upsert every call in one transaction (all or nothing)."""
    rows = parse(data)
    result = ImportResult(rows=len(rows))
    agents: dict[str, User | None] = {}
    for row in rows:
        if row.agent_ref is not None:
            if row.agent_ref not in agents:
                email = row.agent_ref if "@" in row.agent_ref else None
                agents[row.agent_ref] = integration.agent_for(
                    email, None if email else row.agent_ref
                )
            row.agent = agents[row.agent_ref]
    result.unknown_agents = sorted(ref for ref, user in agents.items() if user is None)
    now = utcnow()
    try:
        for start in range(0, len(rows), CHUNK):
            _store(rows[start : start + CHUNK], now, result)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _store(rows: list[Row], now: datetime, result: ImportResult) -> None:
    ids = [row.call_id for row in rows]
    known = set(
        db.session.scalars(sa.select(Call.platform_call_id).where(Call.platform_call_id.in_(ids)))
    )
    db.session.execute(
        upsert(Call)
        .values(
            [
                {
                    "platform_call_id": row.call_id,
                    "state": CallState.RINGING.value,
                    "caller_hidden": False,
                    "created_at": now,
                }
                for row in rows
            ]
        )
        .on_conflict_do_nothing(index_elements=["platform_call_id"])
    )
    calls = {
        call.platform_call_id: call
        for call in db.session.scalars(
            sa.select(Call)
            .where(Call.platform_call_id.in_(ids))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    stats = {
        stat.call_id: stat
        for stat in db.session.scalars(
            sa.select(CallStatistic).where(
                CallStatistic.call_id.in_([c.id for c in calls.values()])
            )
        )
    }
    for row in rows:
        call = calls[row.call_id]
        changed = _keep(stats.get(call.id), call, row, now)
        changed = fill_gaps(call, row) or changed
        if row.call_id not in known:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
    db.session.flush()


def _keep(stat: CallStatistic | None, call: Call, row: Row, now: datetime) -> bool:
    """The file's word on the call, replaced when a later file says something else."""
    values = {
        "started_at": row.started_at,
        "queue": row.queue,
        "wait_seconds": row.wait_seconds,
        "answered": row.answered,
        "talk_seconds": row.talk_seconds,
        "agent_id": row.agent.id if row.agent else None,
        "agent_ref": row.agent_ref,
    }
    if stat is None:
        db.session.add(CallStatistic(call_id=call.id, imported_at=now, **values))
        return True
    if all(getattr(stat, name) == value for name, value in values.items()):
        return False
    for name, value in values.items():
        setattr(stat, name, value)
    stat.imported_at = now
    return True


def fill_gaps(call: Call, row: Row) -> bool:
    """Fill what the call's events left empty (the events win where both have a value).

    The agent stays with the statistics row, not the call: an imported call never lands in an
    agent's "ologgade samtal" list, which is for calls they just had."""
    before = _snapshot(call)
    if call.state == CallState.RINGING:  # no event said how it ended
        call.state = CallState.ENDED if row.answered else CallState.ABANDONED
    if call.ringing_at is None:
        call.ringing_at = row.started_at
    waited = timedelta(seconds=row.wait_seconds or 0)
    if call.queue_wait_seconds is None and row.wait_seconds is not None:
        call.queue_wait_seconds = row.wait_seconds
    if call.queue is None and row.queue:
        call.queue = row.queue
    no_caller = call.caller_e164 is None and call.caller_raw is None and not call.caller_hidden
    if no_caller and row.caller:
        number = parse_number(row.caller)
        call.caller_e164, call.caller_raw, call.caller_hidden = (
            number.e164,
            number.raw,
            number.hidden,
        )
    if call.state in (CallState.ANSWERED, CallState.ENDED) and row.answered:
        if call.answered_at is None and row.wait_seconds is not None:
            call.answered_at = row.started_at + waited
        if call.ended_at is None and call.answered_at and row.talk_seconds is not None:
            call.ended_at = call.answered_at + timedelta(seconds=row.talk_seconds)
            call.state = CallState.ENDED
    if call.state == CallState.ABANDONED and not row.answered and call.abandoned_at is None:
        call.abandoned_at = row.started_at + waited
    return _snapshot(call) != before


def _snapshot(call: Call) -> tuple[object, ...]:
    return (
        call.state,
        call.ringing_at,
        call.answered_at,
        call.ended_at,
        call.abandoned_at,
        call.queue,
        call.queue_wait_seconds,
        call.caller_e164,
        call.caller_raw,
        call.caller_hidden,
    )

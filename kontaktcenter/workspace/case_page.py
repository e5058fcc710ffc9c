"""How the case page arranges its actions: in a few groups, with only the two or three that the
case's state calls for open, so the page reads as "what to do next" rather than a list of forms.
"""

from __future__ import annotations

from dataclasses import dataclass

from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound

MAX_OPEN = 3


@dataclass(frozen=True)
class ActionText:
    summary: str
    button: str
    danger: bool = False


ACTION_TEXT = {
    "note": ActionText("Skriv intern anteckning", "Spara anteckning"),
    "callback_attempt": ActionText("Registrera återuppringning", "Spara försöket"),
    "book_callback": ActionText("Boka återuppringning", "Boka"),
    "assign": ActionText("Tilldela", "Tilldela"),
    "classify": ActionText("Ändra ärendetyp", "Spara ärendetyp"),
    "route": ActionText("Skicka till förvaltning", "Skicka"),
    "hand_off": ActionText("Koppla till direktnummer", "Registrera koppling"),
    "refer": ActionText("Hänvisa till annan myndighet", "Registrera hänvisning"),
    "return": ActionText("Skicka tillbaka till kontaktcenter", "Skicka tillbaka"),
    "wait": ActionText("Vänta på medborgaren", "Sätt som väntande"),
    "close": ActionText("Avsluta ärendet", "Avsluta", danger=True),
    "reopen": ActionText("Återöppna ärendet", "Återöppna"),
    "link": ActionText("Koppla till relaterat ärende", "Koppla ärendena"),
    "merge": ActionText("Slå ihop med samma ärende", "Slå ihop ärendena", danger=True),
}

# (key, title, actions) for an open case and for a closed one.
Layout = tuple[tuple[str, str, tuple[str, ...]], ...]
OPEN_GROUPS: Layout = (
    ("handle", "Anteckna och ring upp", ("note", "callback_attempt", "book_callback")),
    (
        "forward",
        "Fördela och skicka vidare",
        ("assign", "classify", "route", "hand_off", "refer", "return"),
    ),
    ("finish", "Vänta eller avsluta", ("wait", "close")),
    ("relations", "Koppla ihop ärenden", ("link", "merge")),
)
CLOSED_GROUPS: Layout = (
    ("reopen", "Återöppna", ("reopen",)),
    ("handle", "Anteckna", ("note",)),
    ("relations", "Koppla ihop ärenden", ("link", "merge")),
)
MERGED_GROUPS: Layout = (("handle", "Anteckna", ("note",)),)


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    actions: tuple[str, ...]
    open: bool
    primary: str | None  # the action whose form is open when the group is

    def is_open(self, action: str, posted: str | None) -> bool:
        return action == posted or (self.open and action == self.primary)


def applies(action: str, case: Case) -> bool:
    """Whether an action makes sense in the case's current state."""
    if action == "callback_attempt":
        return case.callback_pending
    if action == "return":
        return case.department_id is not None
    if action == "wait":
        return case.status != CaseStatus.WAITING
    return True


def reply_possible(
    case: Case,
    allowed: set[str] | frozenset[str],
    addresses: outbound.ReplyAddresses | None = None,
) -> bool:
    """Whether the page offers a reply. `addresses`: the case's reply addresses if the caller
    has read them already (``outbound.reply_addresses``), else they are read when needed."""
    return (
        "reply" in allowed
        and case.is_open
        and case.merged_into_id is None
        and (
            (case.contact is not None and bool(case.contact.email))
            # a Reply-To of the citizen's last message, after the agent chooses it
            or (addresses if addresses is not None else outbound.reply_addresses(case)).reply_to
            is not None
        )
    )


def wanted(case: Case, can_reply: bool, has_mail: bool) -> list[str]:
    """The groups the case's state calls for, most pressing first."""
    if case.merged_into_id is not None:
        return []
    if not case.is_open:
        return ["reopen"]
    keys = []
    if can_reply and (case.channel == Channel.EMAIL or has_mail):
        keys.append("reply")
    if case.callback_pending:
        keys.append("handle")
    # The first line decides where a case goes; a department works it to its end.
    keys.append("forward" if case.department_id is None else "finish")
    return keys


def arrange(
    case: Case,
    allowed: set[str] | frozenset[str],
    posted: str | None = None,
    has_mail: bool = False,
    addresses: outbound.ReplyAddresses | None = None,
) -> tuple[list[Group], bool]:
    """The action groups to show and whether the reply is open. At most MAX_OPEN are open: the
    group of an action just posted (with its errors), then what the state calls for."""
    can_reply = reply_possible(case, allowed, addresses)
    layout: Layout
    if case.merged_into_id is not None:
        layout = MERGED_GROUPS
    else:
        layout = OPEN_GROUPS if case.is_open else CLOSED_GROUPS
    present = []
    for key, title, names in layout:
        actions = tuple(n for n in names if n in allowed and applies(n, case))
        if actions:
            present.append((key, title, actions))
    order = []
    if posted is not None:
        order += [key for key, _title, actions in present if posted in actions]
        order += ["reply"] if posted == "reply" else []
    order += wanted(case, can_reply, has_mail)
    available = {key for key, _title, _actions in present} | ({"reply"} if can_reply else set())
    opened = list(dict.fromkeys(k for k in order if k in available))[:MAX_OPEN]
    groups = []
    for key, title, actions in present:
        primary = None
        if len(actions) == 1:
            primary = actions[0]
        elif key == "handle" and "callback_attempt" in actions:
            primary = "callback_attempt"
        groups.append(Group(key, title, actions, key in opened, primary))
    return groups, "reply" in opened

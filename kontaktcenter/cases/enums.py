"""Domain enumerations, stored by value. Swedish labels live beside them for the UI."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    VISIT = "visit"
    WEB = "web"

    @property
    def label(self) -> str:
        return {"phone": "Telefon", "email": "E-post", "visit": "Besök", "web": "E-tjänst"}[
            self.value
        ]


class CaseStatus(StrEnum):
    NEW = "new"  # nobody has picked it up
    OPEN = "open"  # someone is working on it
    WAITING = "waiting"  # waiting on the citizen
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {
            "new": "Ny",
            "open": "Pågående",
            "waiting": "Väntar på medborgaren",
            "closed": "Avslutad",
        }[self.value]


OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.WAITING)


class Outcome(StrEnum):
    """How the first line dealt with the contact. The reports (lösningsgrad) depend on it."""

    ANSWERED = "answered"  # löst i första kontakten
    HANDED_OFF = "handed_off"  # kopplad till direktnummer
    ROUTED = "routed"  # skickad till förvaltning
    CALLBACK = "callback"  # återuppringning bokad
    REFERRED = "referred"  # hänvisad till annan myndighet

    @property
    def label(self) -> str:
        return {
            "answered": "Besvarat direkt",
            "handed_off": "Kopplat till direktnummer",
            "routed": "Skickat till förvaltning",
            "callback": "Återuppringning bokad",
            "referred": "Hänvisat till annan myndighet",
        }[self.value]


class ContactKind(StrEnum):
    CITIZEN = "citizen"
    BUSINESS = "business"

    @property
    def label(self) -> str:
        return {"citizen": "Privatperson", "business": "Företag"}[self.value]


class TransferKind(StrEnum):
    WARM = "warm"  # agent stays on the line and introduces the caller
    COLD = "cold"  # blind transfer

    @property
    def label(self) -> str:
        return {"warm": "Medlyssning (varm koppling)", "cold": "Direkt koppling"}[self.value]


class CallbackResult(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"  # no point in trying the number again

    @property
    def label(self) -> str:
        return {
            "reached": "Nådde personen",
            "no_answer": "Inget svar",
            "left_message": "Lämnade röstmeddelande",
            "busy": "Upptaget",
            "wrong_number": "Fel nummer",
        }[self.value]


class ActivityKind(StrEnum):
    CALL_LOGGED = "call_logged"
    CREATED = "created"
    NOTE = "note"
    ANSWERED = "answered"
    HANDED_OFF = "handed_off"
    ROUTED = "routed"
    RETURNED = "returned"  # sent back to the contact center
    REFERRED = "referred"
    CALLBACK_BOOKED = "callback_booked"
    CALLBACK_ATTEMPT = "callback_attempt"
    CALLBACK_DONE = "callback_done"
    CALLBACK_EXHAUSTED = "callback_exhausted"  # the retry rules were used up
    CALLBACK_LETTER_SENT = "callback_letter_sent"  # the letter after the last attempt
    CALLBACK_CANCELLED = "callback_cancelled"  # withdrawn, or the case closed another way
    CALLBACK_REQUESTED = "callback_requested"  # the same person asked again
    ASSIGNED = "assigned"
    STATUS_CHANGED = "status_changed"
    CLOSED = "closed"
    REOPENED = "reopened"
    CLASSIFIED = "classified"  # case type set or changed
    EMAIL_RECEIVED = "email_received"
    EMAIL_QUEUED = "email_queued"  # an answer written, waiting for delivery
    EMAIL_SENT = "email_sent"
    ACKNOWLEDGED = "acknowledged"  # automatic receipt sent
    DELIVERY_FAILED = "delivery_failed"
    MERGED = "merged"  # another case was merged into this one
    MERGED_INTO = "merged_into"  # this case was merged into another
    LINKED = "linked"
    UNLINKED = "unlinked"
    SECRECY_CHANGED = "secrecy_changed"  # the case's own secrecy set or cleared
    DIARIUM_MARKED = "diarium_marked"  # ska diarieföras, ringa betydelse, hålls ordnad
    DIARIUM_REGISTERED = "diarium_registered"  # the diarium's number received
    LEGAL_HOLD = "legal_hold"  # a hold against gallring set or released
    DECLARED_INACTUAL = "declared_inactual"  # "vid inaktualitet": may now be gallrad

    @property
    def label(self) -> str:
        return ACTIVITY_LABELS[self]


ACTIVITY_LABELS = {
    ActivityKind.CALL_LOGGED: "Samtal registrerat",
    ActivityKind.CREATED: "Ärende skapat",
    ActivityKind.NOTE: "Intern anteckning",
    ActivityKind.ANSWERED: "Besvarat direkt",
    ActivityKind.HANDED_OFF: "Kopplat till direktnummer",
    ActivityKind.ROUTED: "Skickat till förvaltning",
    ActivityKind.RETURNED: "Skickat tillbaka till kontaktcenter",
    ActivityKind.REFERRED: "Hänvisat till annan myndighet",
    ActivityKind.CALLBACK_BOOKED: "Återuppringning bokad",
    ActivityKind.CALLBACK_ATTEMPT: "Försök att ringa upp",
    ActivityKind.CALLBACK_DONE: "Återuppringning klar",
    ActivityKind.CALLBACK_EXHAUSTED: "Återuppringning – försöken slut",
    ActivityKind.CALLBACK_LETTER_SENT: "Brev skickat efter återuppringning",
    ActivityKind.CALLBACK_CANCELLED: "Återuppringning återkallad",
    ActivityKind.CALLBACK_REQUESTED: "Begärde återuppringning igen",
    ActivityKind.ASSIGNED: "Tilldelat",
    ActivityKind.STATUS_CHANGED: "Status ändrad",
    ActivityKind.CLOSED: "Avslutat",
    ActivityKind.REOPENED: "Återöppnat",
    ActivityKind.CLASSIFIED: "Ärendetyp ändrad",
    ActivityKind.EMAIL_RECEIVED: "E-post mottagen",
    ActivityKind.EMAIL_QUEUED: "Svar skrivet",
    ActivityKind.EMAIL_SENT: "Svar skickat",
    ActivityKind.ACKNOWLEDGED: "Mottagningskvitto skickat",
    ActivityKind.DELIVERY_FAILED: "E-post kunde inte levereras",
    ActivityKind.MERGED: "Ärende sammanslaget hit",
    ActivityKind.MERGED_INTO: "Sammanslaget med annat ärende",
    ActivityKind.LINKED: "Kopplat till ärende",
    ActivityKind.SECRECY_CHANGED: "Sekretess ändrad",
    ActivityKind.DIARIUM_MARKED: "Diariemarkering",
    ActivityKind.DIARIUM_REGISTERED: "Diariefört",
    ActivityKind.LEGAL_HOLD: "Spärr mot gallring",
    ActivityKind.DECLARED_INACTUAL: "Förklarat inaktuellt",
    ActivityKind.UNLINKED: "Koppling borttagen",
}

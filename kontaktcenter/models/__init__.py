"""All models, imported here so Alembic and the app see the whole metadata."""

from kontaktcenter.models.cases import Activity, AuditEvent, Case, CaseSequence
from kontaktcenter.models.enums import (
    OPEN_STATUSES,
    ActivityKind,
    CallbackResult,
    CaseStatus,
    Channel,
    ContactKind,
    Outcome,
    Role,
    TransferKind,
)
from kontaktcenter.models.goals import (
    CalendarException,
    CaseGoal,
    GoalState,
    GoalTarget,
    OpeningWindow,
    ServiceGoal,
)
from kontaktcenter.models.mail import (
    Blob,
    Direction,
    MailAttachment,
    Mailbox,
    MailKind,
    MailMessage,
    MailStatus,
    MailTemplate,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.models.organisation import CaseType, Department, user_departments
from kontaktcenter.models.people import ApiToken, Contact, User

__all__ = [
    "Blob",
    "Direction",
    "MailAttachment",
    "Mailbox",
    "MailKind",
    "MailMessage",
    "MailStatus",
    "MailTemplate",
    "RoutingRule",
    "RuleKind",
    "OPEN_STATUSES",
    "Activity",
    "ActivityKind",
    "ApiToken",
    "AuditEvent",
    "CalendarException",
    "CallbackResult",
    "CaseGoal",
    "GoalState",
    "GoalTarget",
    "OpeningWindow",
    "ServiceGoal",
    "Case",
    "CaseSequence",
    "CaseStatus",
    "CaseType",
    "Channel",
    "Contact",
    "ContactKind",
    "Department",
    "Outcome",
    "Role",
    "TransferKind",
    "User",
    "user_departments",
]

"""Alert e-mails for service goals at risk or breached."""

from __future__ import annotations

from flask import current_app

from kontaktcenter.cases import secrecy
from kontaktcenter.core import mailer, outbox
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.core.templating import format_datetime
from kontaktcenter.goals.models import CaseGoal

SUBJECTS = {
    "at_risk": "Snart försenat: {reference} – {target}",
    "breached": "Försenat: {reference} – {target}",
}


@outbox.task("goals.send_alert")
def send_goal_alert(goal_id: int, kind: str) -> None:
    """Mail the department's address and the assignee. Idempotent: sent once per goal and kind."""
    goal = db.session.get(CaseGoal, goal_id)
    if goal is None or kind in (goal.alerts_sent or []):
        return
    case = goal.case
    recipients = []
    if case.department is not None and case.department.contact_email:
        recipients.append(case.department.contact_email)
    if case.assignee is not None:
        recipients.append(case.assignee.email)
    if not recipients and current_app.config.get("ALERT_EMAIL"):
        recipients.append(current_app.config["ALERT_EMAIL"])
    if recipients:
        due = format_datetime(goal.due_at, with_weekday=True)
        verb = "förföll" if kind == "breached" else "förfaller"
        type_name = case.case_type.name if case.case_type else "ingen ärendetyp"
        # Mail leaves the system: a secret case's summary never goes, whoever receives it.
        if case.is_secret:
            summary = secrecy.masked_text(case.effective_secrecy_ground)
        else:
            summary = mask_personnummer(case.summary)  # mail: masked
        body = (
            f"Ärende {case.reference} ({type_name})"
            f"\n\nMålet ”{goal.target.label}” {verb} {due}.\n\n"
            f"Sammanfattning: {summary}\n\n"
            f"Hos: {case.department.name if case.department else 'Kontaktcenter'}\n"
            f"Handläggs av: {case.assignee.name if case.assignee else 'ingen'}\n"
        )
        subject = SUBJECTS[kind].format(reference=case.reference, target=goal.target.label)
        mailer.send(mailer.build(sorted(set(recipients)), subject, body))
    goal.alerts_sent = [*(goal.alerts_sent or []), kind]
    db.session.commit()

"""Administration → Telefoniköer: the phone platform's queues (admins only)."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request

from kontaktcenter.channels.phone import dial_out, queues
from kontaktcenter.channels.phone.forms import PhoneQueueForm
from kontaktcenter.channels.phone.models import PhoneQueue
from kontaktcenter.channels.phone.queues import QueueData
from kontaktcenter.core import admin
from kontaktcenter.core.admin import form_status, initial, render, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.forms import case_type_choices
from kontaktcenter.organisation.models import CaseType

LIST = "admin.phone_queues_list"
FORM = "admin/phone_queues_form.html"


def _form(queue: PhoneQueue | None) -> PhoneQueueForm:
    if queue is None:
        # A suggestion's link fills in the name the platform reported.
        name = request.args.get("namn", "")[: queues.NAME_MAX]
        form = PhoneQueueForm(data=initial({"name": name, "label": name}))
    else:
        form = PhoneQueueForm(
            data=initial(
                {
                    "name": queue.name,
                    "label": queue.label,
                    "case_type": str(queue.case_type_id or ""),
                    "abandoned_callback": queue.abandoned_callback,
                    "abandoned_min_wait_seconds": queue.abandoned_min_wait_seconds,
                    "answer_goal_seconds": queue.answer_goal_seconds,
                    "active": queue.active,
                }
            )
        )
    keep = queue.case_type if queue is not None else None
    form.case_type.choices = case_type_choices(keep, "– Ingen (första linjen) –")
    return form


def _data(form: PhoneQueueForm) -> QueueData:
    case_type_id = parse_id(form.case_type.data)
    return QueueData(
        name=form.name.data,
        label=form.label.data,
        case_type=db.session.get(CaseType, case_type_id) if case_type_id else None,
        abandoned_callback=form.abandoned_callback.data,
        abandoned_min_wait_seconds=form.abandoned_min_wait_seconds.data,
        answer_goal_seconds=form.answer_goal_seconds.data,
        active=form.active.data,
    )


@admin.bp.get("/telefonikoer/")
@role_required(Role.ADMIN)
def phone_queues_list():
    return render_template(
        "admin/phone_queues.html",
        queues=queues.list_queues(),
        suggestions=queues.reported_unconfigured(),
        dial_out_configured=dial_out.configured(),
    )


@admin.bp.route("/telefonikoer/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def phone_queue_new():
    form = _form(None)
    done = submitted(
        form,
        lambda: queues.create(_data(form)),
        lambda queue: f"Kön {queue.label} är skapad.",
        LIST,
    )
    return done or render(FORM, form_status(form), form=form, queue=None)


@admin.bp.route("/telefonikoer/<id:queue_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def phone_queue_edit(queue_id: int):
    queue = db.get_or_404(PhoneQueue, queue_id)
    form = _form(queue)
    done = submitted(
        form,
        lambda: queues.update(queue, _data(form)),
        lambda saved: f"Ändringarna för kön {saved.label} är sparade.",
        LIST,
    )
    return done or render(FORM, form_status(form), form=form, queue=queue)


def _panel() -> dict[str, Any]:
    return {"counts": queues.counts() | {"dial_out": dial_out.configured()}}


def init_app(app: Flask) -> None:
    admin.add_panel("admin/phone_queues_panel.html", _panel, order=45)

"""The phone: log a call, hand the caller over to a direct number; the telephony platform's
call events, screen pop, the agent's unlogged calls, its queues (Administration →
Telefoniköer) and click-to-call through its dial-out webhook (issue #14)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from kontaktcenter.cases import access
from kontaktcenter.channels.phone import call_log
from kontaktcenter.channels.phone.call_log import call_of_case
from kontaktcenter.core import case_panels, navigation


def init_app(app: Flask) -> None:
    from kontaktcenter.channels.phone import (
        call_views,
        cli,
        dial_out,
        queue_views,
        screen_pop,
        stats_views,
        tasks,  # registers the outbox task phone.dial_out
        views,
    )

    assert tasks
    dial_out.check_settings(app.config)
    app.register_blueprint(views.bp)
    app.register_blueprint(call_views.bp)
    app.register_blueprint(stats_views.bp)
    cli.init_app(app)
    screen_pop.init_app(app)
    queue_views.init_app(app)
    navigation.add_item("Registrera samtal", "calls.new", order=20, accesskey="n")
    navigation.add_item("Ologgade samtal", "phone_calls.unlogged_list", order=21)
    navigation.add_item("Samtalsstatistik", "phone_stats.form", order=56)
    case_panels.add_panel(
        case_panels.CasePanel(
            "call", "calls/_case_panel.html", _call_panel, 30, probe=call_log.case_has_call
        )
    )


def _call_panel(user: Any, case: Any) -> dict[str, Any] | None:
    """The call the case was logged from, if any (the caller's number is content: hidden from
    those who may not see a secret case's content)."""
    call = call_of_case(case.id)
    if call is None:
        return None
    return {"call": call, "show_caller": access.sees_content(user, case)}

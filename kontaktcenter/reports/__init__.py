"""What managers see: the overview of open work now, and the service reports for a period
(KKiK measures, lösningsgrad, service goals, volumes) on screen, as files and through the API."""

from __future__ import annotations

from flask import Flask

from kontaktcenter.core import navigation


def init_app(app: Flask) -> None:
    from kontaktcenter.core import periodic
    from kontaktcenter.reports import aggregates, cli, hooks, report_views, subscriptions, views

    assert hooks  # records first-response times from the case events
    periodic.register(subscriptions.send_due, seconds=3600)
    periodic.register(aggregates.refresh_job, seconds=300)
    app.cli.add_command(cli.reports_cli)
    app.register_blueprint(views.bp)
    app.register_blueprint(report_views.bp)
    navigation.add_item("Översikt", "overview.index", order=50)
    navigation.add_item("Rapporter", "reports.index", order=55)

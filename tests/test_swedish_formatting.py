"""Swedish that reads right: plural forms, numbers and dates from CLDR (Babel)."""

from __future__ import annotations

from datetime import UTC, datetime

from kontaktcenter.core.templating import (
    format_datetime_long,
    format_filesize,
    format_number,
    plural,
)

NBSP = "\xa0"


def test_plural_forms_follow_the_count():
    assert plural(1, "ärendetyp", "ärendetyper") == "1 ärendetyp"
    assert plural(0, "ärendetyp", "ärendetyper") == "0 ärendetyper"
    assert plural(2, "ärendetyp", "ärendetyper") == "2 ärendetyper"
    assert plural(1234, "ärende", "ärenden") == f"1{NBSP}234 ärenden"


def test_numbers_and_sizes_use_the_decimal_comma_and_grouping():
    assert format_number(1234) == f"1{NBSP}234"
    assert format_number(0.7) == "0,7"
    assert format_number(12.345, 1) == "12,3"
    assert format_number(12.5, 0) == "12"  # CLDR rounds half to even
    assert format_filesize(700) == "0,7 kB"
    assert format_filesize(3_500_000) == "3,3 MB"


def test_a_long_date_has_a_swedish_weekday_and_month(app):
    with app.app_context():
        # 05:23 UTC is 06:23 in Stockholm in winter.
        text = format_datetime_long(datetime(2026, 12, 6, 5, 23, tzinfo=UTC))
    assert text == "sön 6 dec. 2026 06:23"


def test_a_single_case_type_is_not_plural_on_the_admin_page(org, client, login):
    login(org.admin)
    html = client.get("/admin/arendetyper/").get_data(as_text=True)
    assert "1 ärendetyp hos Miljöförvaltningen" in html
    assert "2 ärendetyper hos Stadsbyggnadskontoret" in html


def test_every_page_has_a_favicon_even_before_login(client):
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/login").get_data(as_text=True)
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/static/favicon.svg")
    with client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"

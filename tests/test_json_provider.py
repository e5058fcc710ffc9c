"""JSON responses are encoded with orjson (#16) and say what Flask's own provider said: the same
bytes for ASCII text (keys sorted, compact, a final newline, HTTP dates, strings for Decimals
and UUIDs, dataclasses as objects), the same document for any other text (sent as UTF-8), the
same errors for what cannot be encoded, the same number for a float (a very small one may be
written without the exponent's leading zero)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup

from kontaktcenter.core.json_provider import OrjsonProvider
from tests.api_client import api_as


class Colour(StrEnum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    at: datetime


class Unknown:
    pass


DOCUMENTS = [
    {"b": 1, "a": [1, 2.5, None, True, False], "c": {"z": "", "y": -0.0}},
    {"at": datetime(2026, 12, 6, 19, 28, 1, 123456, tzinfo=UTC), "day": date(2026, 12, 6)},
    {
        "naive": datetime(2026, 1, 2, 3, 4, 5),
        "cet": datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=1))),
    },
    {"amount": Decimal("12.50"), "id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"point": Point(3, datetime(2026, 12, 6, tzinfo=UTC)), "colour": Colour.RED},
    {"html": Markup("<b>x</b>"), "tuple": (1, "two"), "big": 2**63 - 1, "share": 0.1 + 0.2},
    {"nested": [{"b": {"d": 1, "c": 2}}, [[], {}]], "escapes": '"\\\n\t\u0001/'},
    [1, "list at the top"],
    "a string",
    None,
    {2: "int keys", 10: "sorted as numbers, as the standard library does"},
    {"huge": 2**70},
]


_APP = Flask(__name__)  # the providers hold only a weak reference to their app


@pytest.fixture
def providers() -> tuple[DefaultJSONProvider, OrjsonProvider]:
    _APP.debug = False
    return DefaultJSONProvider(_APP), OrjsonProvider(_APP)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_same_bytes_as_flasks_provider(providers, document):
    flask_provider, ours = providers
    expected, got = flask_provider.response(document), ours.response(document)
    assert got.get_data() == expected.get_data()
    assert got.mimetype == expected.mimetype == "application/json"
    assert got.headers["Content-Type"] == expected.headers["Content-Type"]


@pytest.mark.parametrize("document", DOCUMENTS[:7])
def test_the_same_bytes_in_debug_mode(providers, document):
    flask_provider, ours = providers
    _APP.debug = True  # indented, as Flask's provider does in debug mode
    try:
        assert ours.response(document).get_data() == flask_provider.response(document).get_data()
    finally:
        _APP.debug = False


def test_a_float_in_exponent_form_is_the_same_number(providers):
    """The one other difference: below 1e-4 orjson writes 1e-7 where Python writes 1e-07."""
    flask_provider, ours = providers
    document = {"small": 1e-7, "large": 1.5e300, "tiny": 2.5e-5}
    got = ours.response(document).get_data()
    assert json.loads(got) == json.loads(flask_provider.response(document).get_data()) == document


def test_text_outside_ascii_is_the_same_document_in_utf8(providers):
    flask_provider, ours = providers
    document = {"summary": "Fråga om bygglov för altan – Åsa Öberg", "emoji": "📞", "sep": "\u2028"}
    got = ours.response(document).get_data()
    assert json.loads(got) == json.loads(flask_provider.response(document).get_data()) == document
    assert "Fråga om bygglov".encode() in got  # UTF-8, not \u00e5 escapes


@pytest.mark.parametrize("value", [Unknown(), {1, 2}, {"a": 1, 2: "mixed keys"}])
def test_what_cannot_be_encoded_fails_as_before(providers, value):
    flask_provider, ours = providers
    with pytest.raises(TypeError):
        flask_provider.response(value)
    with pytest.raises(TypeError):
        ours.response(value)


def test_dumps_and_loads_stay_the_standard_librarys(providers):
    """Templates' |tojson and files written with flask.json.dumps(..., ensure_ascii=False)."""
    flask_provider, ours = providers
    document = {"b": "Fråga", "a": datetime(2026, 12, 6, tzinfo=UTC)}
    assert ours.dumps(document) == flask_provider.dumps(document)
    assert ours.dumps(document, ensure_ascii=False, indent=2) == flask_provider.dumps(
        document, ensure_ascii=False, indent=2
    )
    assert ours.loads('{"a": NaN}').keys() == {"a"}


def test_the_app_answers_with_orjson(app, client, org):
    assert isinstance(app.json, OrjsonProvider)
    response = api_as(client, org.agent).get("/case-types")
    assert response.status_code == 200
    body = response.get_data()
    assert body.endswith(b"\n") and b"\\u00" not in body
    names = [t["name"] for t in response.get_json()["items"]]
    assert any(not name.isascii() for name in names)
    assert all(name.encode() in body for name in names)

"""JSON responses encoded with orjson (issue #16): the same documents as Flask's own provider.

Only :meth:`OrjsonProvider.response` changes (what ``return {...}`` and ``jsonify`` send);
``dumps`` and ``loads`` stay Flask's (the standard library), so templates' ``|tojson``, files
made with ``flask.json.dumps(..., ensure_ascii=False)`` and the parsing of request bodies are
untouched. What a response contains is what Flask's provider gives: keys sorted, compact
(indented in debug mode), a final newline, dates and datetimes as HTTP dates, Decimals and
UUIDs as strings, dataclasses as objects; anything orjson refuses (a key that is not a string,
an integer beyond 64 bits, an unknown type) goes to the standard library, which encodes it
as before or raises as before. The differences are in form only: text outside ASCII is sent as
UTF-8 instead of ``\\uXXXX`` escapes (the same JSON: RFC 8259 requires UTF-8 between systems),
a float below 1e-4 may be written ``2.5e-05`` → ``0.000025`` or ``1e-07`` → ``1e-7`` (the same
number), and NaN or infinity would be ``null`` instead of the invalid ``NaN``.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as BaseResponse

# Datetimes and dataclasses go to `default` (Flask's rendering), not orjson's own.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonProvider(DefaultJSONProvider):
    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        obj = self._prepare_response_obj(args, kwargs)
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        options = (
            _PASSTHROUGH
            | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)
            | (orjson.OPT_INDENT_2 if pretty else 0)
        )
        try:
            body = orjson.dumps(obj, default=self.default, option=options) + b"\n"
        except TypeError:  # orjson.JSONEncodeError: leave the odd case to the standard library
            return super().response(obj)
        response_class = cast(type[Response], self._app.response_class)
        return response_class(body, mimetype=self.mimetype)

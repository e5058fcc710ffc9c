"""The Jinja environment of the app: Flask's, with template globals that Jinja can compare
cheaply (issue #16).

On every ``{% from "x.html" import y %}`` Jinja compares the importing template's globals
with the imported one's (``Template._get_default_module``): ``set - ChainMap.keys()``, which
asks ``ChainMap.__contains__`` once per global, a generator each: ~200 Python calls for our
~70 globals, on every import of every render (a case page made two). Here a template's
globals are a ChainMap whose ``keys()`` is a set, so that comparison is one C-level set
difference. ``make_globals`` is Jinja's documented hook for the map; everything else is
ChainMap's own behaviour.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import MutableMapping
from typing import Any

from flask.templating import Environment as FlaskEnvironment


class _Globals(ChainMap[str, Any]):
    """A template's globals over the environment's: ``keys()`` as a set (see the module)."""

    def keys(self) -> set[str]:  # type: ignore[override]
        return set().union(*self.maps)


class Environment(FlaskEnvironment):
    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return _Globals({} if d is None else d, self.globals)

"""What happens to callbacks, for the areas above (distribution assigns new ones).

Sent inside the transaction that made the change, as :mod:`kontaktcenter.cases.events` are.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

created = _signals.signal("callback-created")  # sender: the Callback (flushed, has an id)
closed = _signals.signal("callback-closed")  # reached, exhausted or cancelled

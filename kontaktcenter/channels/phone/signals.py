"""What happens to calls, for the areas above (callbacks, distribution).

Sent inside the transaction that stores a call event, before its commit: a receiver's rows are
committed with the event or not at all, and a receiver must not commit.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Call, after its fields were recomputed from its events; before=CallState it had.
# Events arrive out of order, so a call can go ABANDONED -> ANSWERED when a late `answered`
# comes in: receivers handle both directions.
call_changed = _signals.signal("call-changed")

# sender: the Call, after every newly stored event (not a duplicate), whether or not its state
# changed; before=CallState it had, event=the new CallEvent. A later event can fill in what an
# earlier one left out (the caller, the queue, the wait): receivers that decide from those
# fields listen here, and must be idempotent (they see the same call again and again).
call_updated = _signals.signal("call-updated")

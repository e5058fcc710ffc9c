"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

import gc

from kontaktcenter import create_app

app = create_app()

# What the app holds once loaded (modules, models, mappers, routes: ~190,000 objects) lives as
# long as the process. Frozen, the cyclic GC stops walking it: a full collection took ~110 ms
# (a pause in whichever request triggered it; ~1.4 ms per API case-list request on average),
# frozen ~2 ms (#16, measured in-process with gc.callbacks). Collected first: no garbage kept.
gc.collect()
gc.freeze()

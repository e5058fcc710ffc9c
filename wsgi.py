"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

import gc

from kontaktcenter import create_app

#: Container objects allocated (net) before the young generation is collected (default 700).
GC_YOUNG_THRESHOLD = 50_000

app = create_app()

# What the app holds once loaded (modules, models, mappers, routes: ~190,000 objects) lives as
# long as the process. Frozen, the cyclic GC stops walking it: a full collection took ~110 ms
# (a pause in whichever request triggered it; ~1.4 ms per API case-list request on average),
# frozen ~2 ms (#16, measured in-process with gc.callbacks). Collected first: no garbage kept.
gc.collect()
gc.freeze()

# A request makes and frees tens of thousands of objects (rows, statements, template output);
# reference counting frees nearly all of them, yet at the default threshold (700 more container
# objects than freed) the young generation was collected ~190 times per 200 search pages, for
# ~11 % of their CPU. At 50,000 it is collected every few hundred requests: the cyclic garbage
# a request leaves waits a little longer, and requests stop paying for the collector (#12, #16;
# bench/README.md, Search, 2026-12-07).
gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)

"""The WSGI entry point freezes what the loaded app holds (#16), so the cyclic garbage collector
stops walking it: a full collection of a loaded app took ~110 ms, a pause in whichever request
triggered it. Checked in its own process (freezing this one would change every other test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import gc
import wsgi
frozen = gc.get_freeze_count()
gc.collect()
assert gc.get_freeze_count() == frozen  # frozen for good: collections leave it alone
print(frozen, wsgi.app.name)
"""


def test_the_loaded_app_is_frozen(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KONTAKTCENTER_")}
    env.update(
        KONTAKTCENTER_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'kc.db'}",
        KONTAKTCENTER_SECRET_KEY="gc-test-secret-key-0123456789abcdef0123",
        KONTAKTCENTER_RATELIMIT_STORAGE_URI="memory://",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    frozen, name = result.stdout.split()
    assert name == "kontaktcenter"
    # The app's modules, models, mappers and routes: far more than a bare interpreter's few.
    assert int(frozen) > 50_000

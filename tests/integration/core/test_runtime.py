"""The API and the workers freeze their startup heap and collect garbage less often."""

from __future__ import annotations

import os
import subprocess
import sys

from core.config import Settings

SCRIPT = """
import gc
from core.runtime import OLDER_THRESHOLDS, YOUNG_THRESHOLD, settle_heap
before = gc.get_threshold()
settle_heap()
frozen = gc.get_freeze_count()
settle_heap()
print(before == (700, 10, 10), gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS),
      frozen > 1000, gc.get_freeze_count() == frozen, YOUNG_THRESHOLD > 700)
"""


def test_settling_freezes_the_startup_heap_once_and_raises_the_thresholds() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True"] * 5


def test_the_api_settles_once_started(settings: Settings) -> None:
    probe = """
import gc
from litestar.testing import TestClient
import app
assert gc.get_threshold()[0] == 700
with TestClient(app.create_app()):
    print(gc.get_threshold()[0])
"""
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert out.stdout.split()[-1:] == ["50000"], out.stderr[-2000:]

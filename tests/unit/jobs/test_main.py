"""`python -m jobs`: arq's worker on uvloop."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs.__main__ import main


def test_it_needs_exactly_one_settings_path() -> None:
    with pytest.raises(SystemExit, match="usage"):
        main([])
    with pytest.raises(SystemExit, match="usage"):
        main(["jobs.worker.WorkerSettings", "extra"])


def test_an_unknown_settings_path_fails_before_any_loop_starts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "jobs.worker.NoSuchSettings"], capture_output=True, timeout=60
    )
    assert done.returncode != 0
    assert b"NoSuchSettings" in done.stderr

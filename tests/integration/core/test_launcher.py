"""The launcher restarts a child that dies, with a growing delay, and leaves the others be."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core import launcher as launcher_module
from core.launcher import Command, Launcher, next_delay, system_commands
from tests.ports import any_free_port

SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")


def wait_for(what: Callable[[], object], timeout_s: float = 10.0) -> float:
    """Seconds until `what()` is truthy; fails after `timeout_s`."""
    start = time.monotonic()
    while not what():
        assert time.monotonic() - start < timeout_s, "timed out"
        time.sleep(0.02)
    return time.monotonic() - start


def kill_and_wait_restart(running: Launcher, name: str) -> float:
    """SIGKILL `name`; seconds until it runs again under another pid."""
    pid = running.pid(name)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return wait_for(lambda: running.pid(name) not in (None, pid))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def messages() -> Iterator[list[str]]:
    """What the launcher logs (the `crowdpass` logger may not propagate to pytest's)."""
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    launcher_module.log.addHandler(handler)
    launcher_module.log.setLevel(logging.INFO)
    yield seen
    launcher_module.log.removeHandler(handler)


@pytest.fixture
def sleepers(tmp_path: Path) -> Iterator[Launcher]:
    running = Launcher(os.environ, logs=tmp_path)
    running.start(Command("a", SLEEPER), Command("b", SLEEPER))
    yield running
    running.stop()


def test_a_killed_child_is_restarted_with_a_doubling_delay_and_the_other_keeps_running(
    sleepers: Launcher, messages: list[str]
) -> None:
    sleepers.supervise(poll_s=0.02)
    other = sleepers.pid("b")
    assert other is not None

    assert 0.45 <= kill_and_wait_restart(sleepers, "a") < 3.0
    assert messages[0] == "a exited with code -9; restarting it in 0.5 s"
    assert messages[1].startswith("a restarted (pid ")

    assert 0.95 <= kill_and_wait_restart(sleepers, "a") < 4.0
    assert messages[2] == "a exited with code -9; restarting it in 1.0 s"

    assert sleepers.restarts == {"a": 2, "b": 0}
    assert sleepers.pid("b") == other
    assert alive(other)


def test_stop_ends_every_child_and_restarts_none(sleepers: Launcher) -> None:
    sleepers.supervise(poll_s=0.02)
    pids = [sleepers.pid("a"), sleepers.pid("b")]
    sleepers.stop()
    time.sleep(0.7)  # longer than the first restart delay
    assert sleepers.pid("a") is None
    assert sleepers.pid("b") is None
    assert not any(alive(p) for p in pids if p is not None)
    assert sleepers.restarts == {"a": 0, "b": 0}


def test_without_supervision_a_dead_child_is_reported_with_its_log(tmp_path: Path) -> None:
    with Launcher(os.environ, logs=tmp_path) as running:
        running.start(Command("fails", (sys.executable, "-c", "print('no luck'); raise SystemExit(3)")))
        wait_for(lambda: running.pid("fails") is None)
        with pytest.raises(RuntimeError, match=r"fails exited with 3:\nno luck"):
            running.check_alive()


def test_the_delay_doubles_up_to_ten_seconds() -> None:
    delays = [0.5]
    for _ in range(6):
        delays.append(next_delay(delays[-1]))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_the_killed_payments_stub_comes_back_and_answers(tmp_path: Path) -> None:
    port = any_free_port()
    stub = next(c for c in system_commands(api_port=0, payments_port=port) if c.name == "payments")
    with Launcher(os.environ, logs=tmp_path) as running:
        running.start(stub)
        running.supervise(poll_s=0.05)
        url = f"http://127.0.0.1:{port}/schema/openapi.json"
        running.wait_http(url)
        kill_and_wait_restart(running, "payments")
        running.wait_http(url, timeout_s=30)
        assert running.restarts["payments"] == 1

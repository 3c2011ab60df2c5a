"""Start CrowdPass's processes, keep them running, stop them.

The one launcher of the system as separate processes, used by `manage.py run`, the
benchmarks (bench/) and the end-to-end tests. It only runs commands; it imports no domain
package. `system_commands()` gives the four processes:

- `payments`: the payments stub, `uvicorn payments_stub.app:app`;
- `worker`: arq's worker on the default queue, `python -m jobs jobs.worker.WorkerSettings`;
- `orders-worker`: an orders worker reading the stream `ticket_orders`, `python -m jobs orders`
  (start more of them, on any machine, to decide orders faster);
- `api`: `uvicorn --factory app:create_app`.

Each child writes to `<logs>/<name>.log` when a folder is given, else to this process's
own output; a command may be pinned to some CPUs with taskset. Each child leads its own
process group, so a Ctrl-C in the terminal reaches the caller only, which stops them in
order. `supervise()` restarts a child that exits: 0.5 s after it died, then twice as long
each time it dies again (at most 10 s), back to 0.5 s once it has stayed up for 30 s. The
others are never touched; only `stop()` ends them.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 10.0
STABLE_S = 30.0
STOP_TIMEOUT_S = 15.0
log = logging.getLogger("crowdpass.launcher")


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    cpus: frozenset[int] | None = None  # taskset to these CPUs; None: the caller's


def uvicorn(target: str, *, host: str, port: int, factory: bool = False) -> tuple[str, ...]:
    """uvicorn serving `target` as the system serves its apps (the benchmarks' ceiling too).

    `--no-proxy-headers`: the app reads X-Forwarded-For itself, from trusted proxies only
    (core/addresses.py); uvicorn's own reading trusts 127.0.0.1 by default, so any local
    client could claim any address."""
    flags = ("--factory",) if factory else ()
    return (sys.executable, "-m", "uvicorn", *flags, target,
            "--host", host, "--port", str(port), "--no-proxy-headers", "--log-level", "warning")  # fmt: skip


def system_commands(
    *,
    api_port: int,
    payments_port: int,
    api_host: str = "127.0.0.1",
    api_cpus: frozenset[int] | None = None,
    other_cpus: frozenset[int] | None = None,
) -> list[Command]:
    """The payments stub, both workers and the API, in the order they should start."""
    jobs = (sys.executable, "-m", "jobs")
    payments = uvicorn("payments_stub.app:app", host="127.0.0.1", port=payments_port)
    return [
        Command("payments", payments, other_cpus),
        Command("worker", (*jobs, "jobs.worker.WorkerSettings"), other_cpus),
        Command("orders-worker", (*jobs, "orders"), other_cpus),
        Command("api", uvicorn("app:create_app", host=api_host, port=api_port, factory=True), api_cpus),
    ]


def all_cpus() -> frozenset[int]:
    return frozenset(range(os.cpu_count() or 1))


def pinned(argv: Iterable[str], cpus: frozenset[int] | None) -> list[str]:
    """`argv` under taskset on `cpus` (unchanged when cpus is None or taskset is missing)."""
    if cpus is None or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus)), *argv]


def next_delay(delay_s: float) -> float:
    return min(delay_s * 2, MAX_DELAY_S)


class Launcher:
    """Children started from commands, by name; optionally supervised."""

    def __init__(self, env: Mapping[str, str], *, logs: Path | None = None, cwd: Path = ROOT) -> None:
        self.env = dict(env)
        self.logs = logs
        self.cwd = cwd
        self.restarts: dict[str, int] = {}
        self._commands: dict[str, Command] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._started: dict[str, float] = {}
        self._files: dict[str, IO[bytes]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def __enter__(self) -> Launcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, *commands: Command) -> None:
        with self._lock:
            for command in commands:
                if command.name in self._procs:
                    raise ValueError(f"{command.name} is already running")
                self._commands[command.name] = command
                self.restarts.setdefault(command.name, 0)
                self._spawn(command)

    def _spawn(self, command: Command) -> None:
        out: IO[bytes] | None = None
        if self.logs is not None:
            out = self._files.get(command.name)
            if out is None:
                self.logs.mkdir(parents=True, exist_ok=True)
                out = self._files[command.name] = (self.logs / f"{command.name}.log").open("wb")
        self._procs[command.name] = subprocess.Popen(  # noqa: S603 (our own command lines)
            pinned(command.argv, command.cpus),
            cwd=self.cwd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            process_group=0,
        )
        self._started[command.name] = time.monotonic()

    def pid(self, name: str) -> int | None:
        """The pid of `name` while it runs, else None."""
        proc = self._procs.get(name)
        return proc.pid if proc is not None and proc.poll() is None else None

    def log_tail(self, name: str, lines: int = 30) -> str:
        if self.logs is None:
            return "(output not captured)"
        try:
            text = (self.logs / f"{name}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise when a child has exited (for callers that do not supervise)."""
        for name, proc in list(self._procs.items()):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def wait_http(self, url: str, *, timeout_s: float = 60.0) -> None:
        """Wait until `url` answers 200, failing early when a child exits."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if self._supervisor is None:
                self.check_alive()
            try:
                answer = httpx.get(url, timeout=2)
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer 200 within {timeout_s} s (last: {last})")

    # --- supervision ----------------------------------------------------------------------

    def supervise(self, *, poll_s: float = 0.1) -> None:
        """Restart, in a thread of their own, the children that exit until `stop()`."""
        if self._supervisor is None:
            self._supervisor = threading.Thread(
                target=self._supervise, args=(poll_s,), name="launcher", daemon=True
            )
            self._supervisor.start()

    def _supervise(self, poll_s: float) -> None:
        delays: dict[str, float] = {}
        due: dict[str, float] = {}  # name -> when to start it again
        while not self._stopping.wait(poll_s):
            with self._lock:
                if self._stopping.is_set():
                    return
                now = time.monotonic()
                for name in [n for n in due if n not in self._procs]:  # stopped meanwhile
                    del due[name]
                for name, proc in list(self._procs.items()):
                    if name in due:
                        if now >= due[name]:
                            del due[name]
                            self._spawn(self._commands[name])
                            self.restarts[name] += 1
                            log.warning("%s restarted (pid %d)", name, self._procs[name].pid)
                        continue
                    code = proc.poll()
                    if code is None:
                        continue
                    if now - self._started[name] >= STABLE_S:
                        delays.pop(name, None)
                    delay = delays.get(name, FIRST_DELAY_S)
                    delays[name] = next_delay(delay)
                    due[name] = now + delay
                    log.warning("%s exited with code %s; restarting it in %.1f s", name, code, delay)

    def stop(self, *names: str) -> None:
        """Stop `names` (every child when none is given): SIGTERM, then SIGKILL after 15 s."""
        if not names:
            self._stopping.set()
            if self._supervisor is not None and self._supervisor is not threading.current_thread():
                self._supervisor.join()
        with self._lock:
            chosen = {n: p for n, p in self._procs.items() if not names or n in names}
            for name in chosen:
                del self._procs[name]
                self._commands.pop(name, None)
        for proc in chosen.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in chosen.values():
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for name in chosen:
            out = self._files.pop(name, None)
            if out is not None:
                out.close()

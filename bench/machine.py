"""What the machine is, and how much memory the backend takes while a scenario runs.

Memory is the proportional set size (PSS) of each process: a page shared by n processes
counts 1/n in each. PostgreSQL's shared buffers are mapped by every backend, so summed RSS
would count them once per connection; summed PSS counts them once. The figures:

- api: the uvicorn process serving the API;
- workers: both arq worker processes;
- redis: the redis-server process (it may hold other databases' keys too);
- postgres: the postmaster, its auxiliary processes and the backends connected to the
  scenario's database (backends of other databases on the same server are left out).

The sampler reads them every `interval_s` and keeps each group's peak and the peak of
their sum (the backend), as they were at the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

import asyncpg
import psutil  # type: ignore[import-untyped]

MIB = 1024 * 1024


def machine_info() -> dict[str, str | int]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count() or 0,
        "model": model or platform.processor() or "unknown",
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "loadavg": f"{os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "taskset": "yes" if shutil.which("taskset") else "no",
        "wrk": _wrk_version(),
    }


def _wrk_version() -> str:
    exe = shutil.which("wrk")
    if not exe:
        return "absent"
    out = subprocess.run([exe, "-v"], capture_output=True, text=True, check=False).stdout
    return out.split("[")[0].replace("wrk", "").strip() or "unknown"


def listener_pid(url: str) -> int | None:
    """The process listening at a redis:// or unix:// URL (None when not on this machine)."""
    parsed = urlparse(url)
    try:
        if parsed.scheme == "unix":
            for c in psutil.net_connections(kind="unix"):
                if c.laddr == parsed.path and c.pid:
                    return int(c.pid)
            return None
        port = parsed.port or 6379
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return int(c.pid)
    except (psutil.AccessDenied, OSError):
        return None
    return None


def pss(pid: int) -> int:
    """Proportional set size of one process in bytes (its RSS when PSS is unreadable)."""
    try:
        p = psutil.Process(pid)
        try:
            return int(p.memory_full_info().pss)
        except (psutil.AccessDenied, AttributeError):
            return int(p.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return 0


@dataclass
class MemoryPeaks:
    groups: dict[str, float] = field(default_factory=dict)  # MiB
    backend: float = 0.0  # MiB, api + workers + redis + postgres at one instant
    samples: int = 0


class MemorySampler:
    """Samples the PSS of process groups; `groups` maps a name to a function giving pids."""

    BACKEND = ("api", "workers", "redis", "postgres")

    def __init__(self, groups: dict[str, Callable[[], Sequence[int]]], *, interval_s: float = 0.25) -> None:
        self.groups = groups
        self.interval_s = interval_s
        self.peaks = MemoryPeaks(groups=dict.fromkeys(groups, 0.0))
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        now: dict[str, float] = {}
        for name, pids in self.groups.items():
            now[name] = sum(pss(pid) for pid in pids()) / MIB
            self.peaks.groups[name] = max(self.peaks.groups[name], now[name])
        backend = sum(now.get(g, 0.0) for g in self.BACKEND)
        self.peaks.backend = max(self.peaks.backend, backend)
        self.peaks.samples += 1

    async def _run(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> MemoryPeaks:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()
        return self.peaks


class PostgresPids:
    """The postmaster, its auxiliary processes and the backends of one database, refreshed
    from pg_stat_activity at most once a second."""

    def __init__(self, conn: asyncpg.Connection, database: str) -> None:
        self.conn = conn
        self.database = database
        self.pids: list[int] = []

    async def refresh(self) -> None:
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR datname IS NULL", self.database
        )
        pids = {r["pid"] for r in rows}
        with contextlib.suppress(psutil.Error):
            any_pid = next(iter(pids))
            pids.add(psutil.Process(any_pid).ppid())  # the postmaster
        self.pids = sorted(pids)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(asyncpg.PostgresError, OSError, StopIteration):
                await self.refresh()
            await asyncio.sleep(1.0)

    def __call__(self) -> list[int]:
        return self.pids

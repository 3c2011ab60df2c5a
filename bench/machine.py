"""What the machine is, and how much memory the backend takes while a scenario runs: the
proportional set size (PSS) of its processes, in which a page shared by n processes counts
1/n in each (PostgreSQL's shared buffers count once, not once per backend as RSS would)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]

MIB = 1024 * 1024
BACKEND = ("api", "workers", "redis", "postgres")


def machine_info() -> dict[str, str | int]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    model = names[0] if names else platform.processor() or "unknown"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": os.cpu_count() or 0,
        "model": model,
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "loadavg": f"{os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "commit": commit or "unknown",
    }


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
    backend: float = 0.0  # MiB, the BACKEND groups at one instant
    samples: int = 0


class MemorySampler:
    """Every `interval_s`, the PSS of each group (a name -> a function giving its pids)."""

    def __init__(self, groups: dict[str, Callable[[], Sequence[int]]], *, interval_s: float = 0.25) -> None:
        self.groups = groups
        self.interval_s = interval_s
        self.peaks = MemoryPeaks(groups=dict.fromkeys(groups, 0.0))
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        now = {name: sum(pss(pid) for pid in pids()) / MIB for name, pids in self.groups.items()}
        for name, mib in now.items():
            self.peaks.groups[name] = max(self.peaks.groups[name], mib)
        self.peaks.backend = max(self.peaks.backend, sum(now.get(g, 0.0) for g in BACKEND))
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
            self._task = None
        self.sample()
        return self.peaks


def postgres_pids(postmaster: int, database: str) -> list[int]:
    """The postmaster, its auxiliary processes and the backends of one database (a client
    backend's title reads "postgres: [cluster:] <user> <database> <host(port)|[local]> ...")."""
    pids = [postmaster]
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(postmaster).children():
            with contextlib.suppress(psutil.Error):
                words = " ".join(child.cmdline()).split()
                at = next((i for i, w in enumerate(words) if w.endswith(")") or w == "[local]"), None)
                if at is None or words[at - 1] == database:
                    pids.append(child.pid)
    return pids

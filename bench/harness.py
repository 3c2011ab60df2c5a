"""What every scenario (`async def run(h: Harness) -> Report`) shares: this process pinned
to the load core; the data reset (`manage.py reset-db` on the run's own databases); the
system started by core/launcher.py as `make run` starts it, the API on the API core; the
ceiling (bench/hello.py) served the same way; what the machine is; memory; and everything
stopped at the end. Memory is the proportional set size (PSS) of the backend's processes,
in which a page shared by n processes counts 1/n in each (PostgreSQL's shared buffers
count once, not once per backend as RSS would).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]

from bench.report import Figure, Report, at_most
from core.launcher import ROOT, Launcher, all_cpus, pinned, system_commands
from core.limits import LOAD_TEST_LIMITS
from core.redis import create_redis

RESULTS = ROOT / "bench" / "results"
ADMISSION_TTL_S = 120
MEMORY_TARGET_MIB = 512
ZERO_EVENT = "00000000-0000-4000-8000-000000000000"  # the ceiling's requests name no real event
JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024
BACKEND = ("api", "workers", "redis", "postgres")


def machine_info() -> dict[str, str | int]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    model = names[0] if names else platform.processor() or "unknown"
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
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


@dataclass
class Options:
    scenario: str
    scale: float = 0.01
    out: Path = RESULTS
    embedded: bool = False
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crowdpass_bench"
    redis_url: str = "redis://127.0.0.1:6379/8"
    port_base: int = 18700  # API; payments stub +1; ceiling +2
    api_core: int | None = 0
    load_core: int | None = 1
    connections: int = 64
    budget_s: float = 0.0  # 0: the scenario's own budget for its scale
    ceiling: bool = True
    note: str = ""
    command: str = ""


def scaled(full: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(full * scale))


async def ensure_database(url: str) -> None:
    """Create the database of `url` when the server does not have it."""
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    conn = await asyncpg.connect(urlunparse(parsed._replace(path="/postgres")))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class Harness:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.name = f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{opts.scenario}-{opts.scale:g}"
        self.out = opts.out / "logs" / self.name  # process logs and scratch files
        self.out.mkdir(parents=True, exist_ok=True)
        # Secrets of this run (CROWDPASS_ENV=dev below), unless the environment gives them.
        self.admin_token = os.environ.get("ADMIN_TOKEN") or "bench-" + secrets.token_hex(16)
        self.jwt_secret = os.environ.get("JWT_SECRET") or secrets.token_hex(32)
        self.api_port, self.payments_port, self.hello_port = (opts.port_base + i for i in range(3))
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.machine = machine_info()
        self.processes = Launcher({}, logs=self.out)
        self._sampler: MemorySampler | None = None
        self._closing = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Harness:
        opts = self.opts
        if opts.load_core is not None and opts.load_core < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {opts.load_core})
        if opts.embedded:
            from core import embedded

            opts.database_url = embedded.start_postgres(ROOT / ".data" / "bench", "crowdpass_bench")
            opts.redis_url = embedded.start_redis(ROOT / ".data" / "bench")
        else:
            await ensure_database(opts.database_url)
        self.processes.env = {
            **LOAD_TEST_LIMITS,
            **os.environ,
            "CROWDPASS_ENV": "dev",
            "DATABASE_URL": opts.database_url,
            "REDIS_URL": opts.redis_url,
            "ADMIN_TOKEN": self.admin_token,
            "JWT_SECRET": self.jwt_secret,
            "PORT": str(self.api_port),
            "PAYMENTS_PORT": str(self.payments_port),
            "PAYMENTS_URL": f"http://127.0.0.1:{self.payments_port}",
            "ADMISSION_TTL_S": str(ADMISSION_TTL_S),
        }
        self._closing.push_async_callback(asyncio.to_thread, self.processes.stop)
        with (self.out / "reset-db.log").open("wb") as log:
            reset = pinned([sys.executable, "manage.py", "reset-db"], all_cpus())
            done = await asyncio.to_thread(
                subprocess.run, reset, cwd=ROOT, env=self.processes.env, stdout=log, stderr=log
            )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py reset-db failed: see {self.out / 'reset-db.log'}")
        self.pg = await asyncpg.connect(opts.database_url)
        self._closing.push_async_callback(self.pg.close)
        self.rd = create_redis(opts.redis_url)
        self._closing.push_async_callback(self.rd.aclose)
        self.machine["postgres"] = str(await self.pg.fetchval("SHOW server_version")).split(" ")[0]
        server = await self.rd.info("server")
        self.machine["redis"], self._redis_pid = str(server["redis_version"]), int(server["process_id"])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._sampler is not None:
            await self._sampler.stop()
        await self._closing.aclose()

    def budget(self, default_s: float) -> float:
        return self.opts.budget_s or default_s

    async def wait_until(
        self, done: Callable[[], Awaitable[bool]], timeout_s: float, poll_s: float = 0.2
    ) -> bool:
        """Poll `done()` until it is true (True) or `timeout_s` passes (False); a system
        process that exits fails the run."""
        deadline = time.monotonic() + timeout_s
        while not await done():
            if time.monotonic() > deadline:
                return False
            self.processes.check_alive()
            await asyncio.sleep(poll_s)
        return True

    def cpu_s(self, name: str) -> float:
        """CPU seconds (user + system) the system process `name` has used so far."""
        return float(sum(psutil.Process(self.processes.pid(name) or -1).cpu_times()[:2]))

    def api_cpus(self) -> frozenset[int]:
        core = self.opts.api_core
        return frozenset({core}) if core is not None and core < (os.cpu_count() or 1) else all_cpus()

    async def start_system(self) -> None:
        """The system's processes (the API on its core, the rest on every core, not only on
        the load core this process is pinned to), then the memory sampler."""
        api, payments, cpus = self.api_port, self.payments_port, self.api_cpus()
        commands = system_commands(api_port=api, payments_port=payments, api_cpus=cpus, other_cpus=all_cpus())
        self.processes.start(*commands)
        for url in (f"{self.api_url}/health", f"http://127.0.0.1:{self.payments_port}/schema/openapi.json"):
            await asyncio.to_thread(self.processes.wait_http, url)
        database = urlparse(self.opts.database_url).path.lstrip("/")
        postmaster = psutil.Process(await self.pg.fetchval("SELECT pg_backend_pid()")).ppid()

        def pids(*names: str) -> Callable[[], list[int]]:
            return lambda: [p for p in map(self.processes.pid, names) if p is not None]

        self._sampler = MemorySampler(
            {
                "api": pids("api"),
                "workers": pids("worker", "orders-worker"),
                "redis": lambda: [self._redis_pid],  # a shared server: other databases count too
                "postgres": lambda: postgres_pids(postmaster, database),
                "payments stub": pids("payments"),
            }
        )
        self._sampler.start()

    async def stop_memory(self, report: Report) -> None:
        """The memory sampler's peaks as the report's memory figure."""
        assert self._sampler is not None
        peaks, self._sampler = await self._sampler.stop(), None
        g = peaks.groups
        parts = ", ".join(f"{name} {g[name]:.0f}" for name in ("api", "workers", "redis", "postgres"))
        used = f"{peaks.backend:.0f} ({parts}; payments stub {g['payments stub']:.0f} not counted)"
        ok = at_most(peaks.backend, MEMORY_TARGET_MIB, f"≤ {MEMORY_TARGET_MIB} MiB")
        report.figures.append(Figure("peak memory of the backend (PSS, MiB)", used, target=ok))
        report.raw["memory"] = {"backend_mib": peaks.backend, **g, "samples": peaks.samples}

    def admin(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=60)

    async def create_event(self, **fields: Any) -> str:
        """A new event (starting in 30 days) through the API; its id."""
        starts_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
        async with self.admin() as http:
            r = await http.post("/api/events", json={"starts_at": starts_at, "price_cents": 5000, **fields})
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/events answered {r.status_code}: {r.text[:300]}")
        return str(r.json()["id"])

    async def api_metric(self, name: str, labels: str) -> float:
        """One sample of the API's /metrics (e.g. crowdpass_orders_total, outcome="accepted")."""
        async with httpx.AsyncClient(timeout=30) as http:
            lines = (await http.get(f"{self.api_url}/metrics")).text.splitlines()
        prefix = f"{name}{{{labels}}} "
        return next((float(line[len(prefix) :]) for line in lines if line.startswith(prefix)), 0.0)

    def new_report(self, title: str) -> Report:
        opts = self.opts
        pins = f"API on core {opts.api_core}, load on core {opts.load_core} (taskset)"
        where = "embedded servers" if opts.embedded else "the machine's PostgreSQL and Redis"
        settings = f"asyncio driver, {opts.connections} connections; {pins}; {where}"
        settings += f"; {opts.note}" if opts.note else ""
        return Report(opts.scenario, title, opts.scale, opts.command, self.machine, settings)

    def finish(self, report: Report) -> Path:
        path = self.opts.out / f"{self.name}.json"
        report.save_json(path)
        print(report.summary())
        print(f"result: {path}\nlogs: {self.out}")
        return path

"""What every scenario shares: options, the fresh system, the ceiling, memory, the report.

A scenario is `async def run(h: Harness) -> Report`. The harness pins this process (the
asyncio load clients live here) to the load core, prepares the data, starts and stops the
processes, and closes everything whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from bench import wrk
from bench.deployed_postgres import DeployedPostgres
from bench.machine import MemoryPeaks, MemorySampler, PostgresPids, listener_pid, machine_info
from bench.report import Figure, Report, ms, num
from bench.system import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    HELLO,
    ROOT,
    Layout,
    System,
    ensure_database,
    profile_summary,
)
from core.redis import create_redis

# The ceiling sends the scenario's own request stream, at least CEILING_MIN requests (a
# short burst would flatter it) and at most CEILING_MAX.
CEILING_MIN = 50_000
CEILING_MAX = 200_000


@dataclass
class Options:
    scenario: str
    scale: float = 0.01
    record: bool = True
    embedded: bool = False
    postgres: str = "local"  # local (the database_url's server) | deployed (bench/deployed_postgres.py)
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    port_base: int = 18700
    api_core: int | None = 0
    load_core: int | None = 1
    connections: int = 64
    threads: int = 1
    budget_s: float = 0.0  # 0: the scenario's own budget for its scale
    driver: str = "auto"  # wrk | python | auto (wrk when installed)
    db_pool_max: int = 20
    note: str = ""
    ceiling: bool = True
    profile: bool = False
    out: Path = field(default_factory=lambda: ROOT / "bench" / "results")
    command: str = ""

    @property
    def use_wrk(self) -> bool:
        if self.driver == "python":
            return False
        if self.driver == "wrk" and not wrk.available():
            raise RuntimeError("--driver wrk but wrk is not installed (apt-get install wrk)")
        return wrk.available()


def scaled(full: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(full * scale))


class Harness:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        stamp = f"{opts.scenario}-{opts.scale:g}-{os.getpid()}"
        self.out = opts.out / stamp
        self.out.mkdir(parents=True, exist_ok=True)
        self.layout: Layout | None = None
        self.system: System | None = None
        self.db: asyncpg.Connection | None = None
        self.redis: aioredis.Redis | None = None
        self.sampler: MemorySampler | None = None
        self._pg_pids_task: asyncio.Task[None] | None = None
        self.deployed_pg: DeployedPostgres | None = None
        self.machine: dict[str, str | int] = machine_info()

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Harness:
        opts = self.opts
        if opts.load_core is not None and opts.load_core < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {opts.load_core})
        db_url, redis_url = opts.database_url, opts.redis_url
        if opts.embedded:
            from core import embedded

            data = ROOT / ".data" / "bench"
            db_url = embedded.start_postgres(data, "crowdpass_bench")
            redis_url = embedded.start_redis(data)
        else:
            if opts.postgres == "deployed":
                self.deployed_pg = DeployedPostgres(self.out / "postgres", port=opts.port_base + 10)
                db_url = await asyncio.to_thread(self.deployed_pg.start)
            await ensure_database(db_url)
        self.layout = Layout(
            database_url=db_url,
            redis_url=redis_url,
            out=self.out,
            port_base=opts.port_base,
            api_core=opts.api_core,
            load_core=opts.load_core,
            db_pool_max=opts.db_pool_max,
            profile=opts.profile,
        )
        self.system = System(self.layout)
        await asyncio.to_thread(self.system.reset_data)
        self.db = await asyncpg.connect(db_url)
        self.redis = create_redis(redis_url)
        self.machine["postgres"] = str(await self.db.fetchval("SHOW server_version")).split(" ")[0]
        self.machine["shared_buffers"] = str(await self.db.fetchval("SHOW shared_buffers"))
        info = await self.redis.info("server")
        self.machine["redis"] = str(info.get("redis_version", "?"))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.sampler is not None:
            with contextlib.suppress(Exception):
                await self.sampler.stop()
        if self._pg_pids_task is not None:
            self._pg_pids_task.cancel()
            with contextlib.suppress(BaseException):
                await self._pg_pids_task
        if self.system is not None:
            await asyncio.to_thread(self.system.stop)
            if self.opts.profile:
                await asyncio.to_thread(profile_summary, self.out / "api.prof", self.out / "api-profile.txt")
        if self.redis is not None:
            await self.redis.aclose()
        if self.db is not None:
            await self.db.close()
        if self.deployed_pg is not None:
            await asyncio.to_thread(self.deployed_pg.stop)

    @property
    def sys(self) -> System:
        assert self.system is not None
        return self.system

    @property
    def pg(self) -> asyncpg.Connection:
        assert self.db is not None
        return self.db

    @property
    def rd(self) -> aioredis.Redis:
        assert self.redis is not None
        return self.redis

    @property
    def lay(self) -> Layout:
        assert self.layout is not None
        return self.layout

    def budget(self, default_s: float) -> float:
        return self.opts.budget_s or default_s

    # --- the system -----------------------------------------------------------------------

    async def start_system(self) -> None:
        await asyncio.to_thread(self.sys.start)

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.lay.api_url,
            headers={"Authorization": f"Bearer {self.sys.admin_token}"},
            timeout=60,
        )

    async def create_event(self, **fields: Any) -> dict[str, Any]:
        async with self.admin() as http:
            r = await http.post("/api/events", json=fields)
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/events answered {r.status_code}: {r.text[:300]}")
        event: dict[str, Any] = r.json()
        return event

    async def api_metric(self, name: str, labels: str) -> float:
        """One sample of the API's /metrics (e.g. crowdpass_orders_total, outcome="accepted")."""
        async with httpx.AsyncClient(timeout=30) as http:
            text = (await http.get(f"{self.lay.api_url}/metrics")).text
        prefix = f"{name}{{{labels}}} "
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix) :])
        return 0.0

    # --- memory ---------------------------------------------------------------------------

    async def start_memory(self) -> None:
        pg_pids = PostgresPids(await asyncpg.connect(self.lay.database_url), self.lay.database)
        await pg_pids.refresh()
        self._pg_pids_task = asyncio.create_task(pg_pids.run())
        redis_pid = listener_pid(self.lay.redis_url)
        system = self.sys
        self.sampler = MemorySampler(
            {
                "api": lambda: system.pid("api"),
                "workers": lambda: system.pid("worker") + system.pid("orders-worker"),
                "redis": lambda: [redis_pid] if redis_pid else [],
                "postgres": pg_pids,
                "payments stub": lambda: system.pid("payments"),
            }
        )
        self.sampler.start()

    async def stop_memory(self) -> MemoryPeaks:
        assert self.sampler is not None
        peaks = await self.sampler.stop()
        self.sampler = None
        if self._pg_pids_task is not None:
            self._pg_pids_task.cancel()
            with contextlib.suppress(BaseException):
                await self._pg_pids_task
            self._pg_pids_task = None
        return peaks

    # --- the ceiling ----------------------------------------------------------------------

    async def ceiling(
        self, script: str, args: list[str], *, limit: int, label: str, target: str = HELLO
    ) -> wrk.WrkResult | None:
        """The same wrk script and settings against the raw ASGI hello on the API's core
        (or against `target`, e.g. `bench.system.FRAMEWORK_FLOOR`)."""
        if not self.opts.use_wrk or not self.opts.ceiling:
            return None
        await asyncio.to_thread(self.sys.start_hello, target)
        try:
            return await wrk.run_wrk(
                script,
                f"http://127.0.0.1:{self.lay.hello_port}",
                args,
                limit=max(CEILING_MIN, min(limit, CEILING_MAX)),
                threads=self.opts.threads,
                connections=self.opts.connections,
                budget_s=300,
                core=self.opts.load_core,
                log=self.out / f"wrk-ceiling-{label}.log",
            )
        finally:
            await asyncio.to_thread(self.sys.stop, "hello")

    async def run_wrk(
        self, script: str, args: list[str], *, limit: int, budget_s: float, label: str
    ) -> wrk.WrkResult:
        return await wrk.run_wrk(
            script,
            self.lay.api_url,
            args,
            limit=limit,
            threads=self.opts.threads,
            connections=self.opts.connections,
            budget_s=budget_s,
            core=self.opts.load_core,
            log=self.out / f"wrk-{label}.log",
        )

    # --- the report -----------------------------------------------------------------------

    def new_report(self, scenario: str, title: str, *, driver: str = "") -> Report:
        opts = self.opts
        shared = f"shared_buffers {self.machine.get('shared_buffers', '?')}"
        if opts.embedded:
            where = "embedded servers"
        elif opts.postgres == "deployed":
            where = f"PostgreSQL started for the run as docker-compose.yml sets it ({shared}); local Redis"
        else:
            where = f"local services (PostgreSQL {shared})"
        if driver:
            driver = f"{driver}, {opts.connections} connections"
        elif opts.use_wrk:
            driver = f"wrk {self.machine['wrk']}, {opts.threads} thread(s), {opts.connections} connections"
        else:
            driver = f"asyncio client (wrk absent), {opts.connections} connections"

        pins = (
            f"API on core {opts.api_core}, load on core {opts.load_core} (taskset)"
            if opts.api_core is not None
            else "no pinning"
        )
        return Report(
            scenario=scenario,
            title=title,
            scale=opts.scale,
            command=opts.command or shlex.join([Path(sys.executable).name, "-m", "bench.run", opts.scenario]),
            machine=self.machine,
            settings=f"{driver}; {pins}; PostgreSQL and Redis: {where}",
            conditions=opts.note,
        )

    def memory_figures(self, report: Report, peaks: MemoryPeaks, *, target_mib: float = 512) -> None:
        g = peaks.groups
        parts = ", ".join(f"{name} {g[name]:.0f}" for name in ("api", "workers", "redis", "postgres"))
        ok = peaks.backend <= target_mib
        report.figures.append(
            Figure(
                "peak memory of the backend (PSS, MiB)",
                f"{peaks.backend:.0f} ({parts}; payments stub {g.get('payments stub', 0):.0f} not counted)",
                "",
                f"≤ {target_mib:.0f} MiB {'✅' if ok else '❌'}",
            )
        )
        report.raw["memory"] = {"backend_mib": peaks.backend, **g, "samples": peaks.samples}

    def ceiling_line(self, result: wrk.WrkResult | None, what: str) -> str:
        if result is None:
            why = "--no-ceiling" if not self.opts.ceiling else "wrk is not installed"
            return f"{what}: not measured ({why})"
        return (
            f"{what}: {num(result.rate)} req/s, p50 {ms(result.latency_ms.get('p50'))}, "
            f"p99 {ms(result.latency_ms.get('p99'))} ({num(result.requests)} requests; raw ASGI hello, "
            "same uvicorn flags, same core, same wrk script and settings)"
        )

    def finish(self, report: Report) -> Report:
        report.save_json(self.out / "report.json")
        (self.out / "report.md").write_text(report.markdown())
        if self.opts.record:
            report.append_to()
        print(report.markdown())
        print(f"logs and raw figures: {self.out}")
        return report

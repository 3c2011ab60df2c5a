"""Run one load scenario and append its result to docs/benchmarks.md.

    python -m bench.run challenge|flash|waitingroom|growth [--scale 1|0.1|0.01] [options]

Each run starts the system afresh (manage.py reset-db on its own database, then the API,
both arq workers and the payments stub as processes), measures the ceiling (a raw ASGI
hello on the API's core) with the same load settings, runs the scenario from the load
core, checks the outcome in PostgreSQL, and appends a section to docs/benchmarks.md
(unless --no-record). The exit status is 0 only when every correctness check passed.

`growth` runs challenge and flash at each of --scales (default 0.01,0.1,1) and appends a
table of how time and memory grow with the size.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bench.harness import Harness, Options
from bench.report import Report
from bench.scenarios import challenge, flash, waitingroom
from bench.system import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL

T = TypeVar("T")

SCENARIOS: dict[str, Callable[[Harness], Awaitable[Report]]] = {
    "challenge": challenge.run,
    "flash": flash.run,
    "waitingroom": waitingroom.run,
}


def _core(value: str) -> int | None:
    return None if value in ("", "none", "-1") else int(value)


def parse(argv: list[str]) -> tuple[Options, list[float]]:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("scenario", choices=[*SCENARIOS, "growth"])
    p.add_argument("--scale", type=float, default=0.01, help="size relative to the issue's (default 0.01)")
    p.add_argument("--scales", default="0.01,0.1,1", help="growth: the scales to run (default 0.01,0.1,1)")
    p.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md")
    p.add_argument("--no-ceiling", action="store_true", help="skip the ceiling (correctness runs)")
    p.add_argument("--embedded", action="store_true", help="embedded PostgreSQL and Redis under .data/bench")
    p.add_argument(
        "--postgres",
        choices=["local", "deployed"],
        default="local",
        help="local: the --database-url server; deployed: a server started for the run with "
        "docker-compose.yml's settings (bench/deployed_postgres.py)",
    )
    p.add_argument(
        "--database-url", default=DEFAULT_DATABASE_URL, help="its database is dropped and recreated"
    )
    p.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="this Redis database is flushed")
    p.add_argument("--port-base", type=int, default=18700, help="API on it, payments stub +1, ceiling +2")
    p.add_argument(
        "--api-core", type=_core, default=0, help="core of the API and the ceiling ('none': no pinning)"
    )
    p.add_argument("--load-core", type=_core, default=1, help="core of wrk and the asyncio clients")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument(
        "--budget", type=float, default=0.0, help="seconds the load may take (default: per scenario)"
    )
    p.add_argument("--driver", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--db-pool-max", type=int, default=20, help="DB_POOL_MAX of each process")
    p.add_argument("--profile", action="store_true", help="run the API under cProfile: <out>/api-profile.txt")
    p.add_argument("--note", default="", help="conditions to print with the result, e.g. 'quiet machine'")
    p.add_argument("--out", type=Path, default=None, help="folder for logs and raw results")
    a = p.parse_args(argv)
    opts = Options(
        scenario=a.scenario,
        scale=a.scale,
        record=not a.no_record,
        embedded=a.embedded,
        postgres=a.postgres,
        database_url=a.database_url,
        redis_url=a.redis_url,
        port_base=a.port_base,
        api_core=a.api_core,
        load_core=a.load_core,
        connections=a.connections,
        threads=a.threads,
        budget_s=a.budget,
        driver=a.driver,
        db_pool_max=a.db_pool_max,
        note=a.note,
        ceiling=not a.no_ceiling,
        profile=a.profile,
        command=shlex.join(["python", "-m", "bench.run", *argv]),
    )
    if a.out is not None:
        opts.out = a.out
    return opts, [float(s) for s in a.scales.split(",") if s.strip()]


def _stop_on_signals() -> None:
    """SIGINT or SIGTERM cancel the run, so the harness stops what it started (a shell's
    background job starts with SIGINT ignored: install the handler all the same)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


async def run_one(opts: Options) -> Report:
    _stop_on_signals()
    async with Harness(opts) as h:
        report = await SCENARIOS[opts.scenario](h)
        return h.finish(report)


async def run_growth(opts: Options, scales: list[float]) -> list[Report]:
    from bench.scenarios import growth

    _stop_on_signals()
    reports: list[Report] = []
    for scenario in ("challenge", "flash"):
        for scale in scales:
            one = Options(**{**opts.__dict__, "scenario": scenario, "scale": scale})
            one.command = opts.command
            reports.append(await run_one(one))
    growth.summarise(opts, reports)
    return reports


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when installed (as uvicorn does), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    opts, scales = parse(sys.argv[1:] if argv is None else argv)
    try:
        reports = _run(run_growth(opts, scales)) if opts.scenario == "growth" else [_run(run_one(opts))]
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: everything the run started is stopped", file=sys.stderr)
        return 130
    failed = [r for r in reports if not r.correct]
    for r in failed:
        print(f"FAILED correctness checks: ({r.scenario}) {r.title} at scale {r.scale:g}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Run one load scenario: `python -m bench.run challenge|flash|waitingroom|holds [--scale s] [options]`.

Each run starts the system afresh, measures the ceiling (bench/hello.py on the API's core)
with the same driver and settings, runs the scenario, checks the outcome in PostgreSQL and
writes its result to bench/results/<time>-<scenario>-<scale>.json (process logs beside it
under logs/). The exit status is 0 only when every correctness check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
import tempfile
from pathlib import Path

import uvloop

from bench.harness import RESULTS, Harness, Options
from bench.report import Report
from bench.scenarios import challenge, flash, holds, waitingroom

SCENARIOS = {"challenge": challenge.run, "flash": flash.run, "waitingroom": waitingroom.run}
SCENARIOS["holds"] = holds.run


def _core(value: str) -> int | None:
    return None if value in ("", "none", "-1") else int(value)


def parse(argv: list[str]) -> Options:
    d = Options(scenario="")
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    add = p.add_argument
    add("scenario", choices=list(SCENARIOS))
    add("--scale", type=float, default=d.scale, help="size relative to the issue's (default 0.01)")
    add("--out", type=Path, default=None, help=f"where the result goes (default {RESULTS})")
    add("--no-record", action="store_true", help="keep the result out of bench/results")
    add("--no-ceiling", dest="ceiling", action="store_false", help="skip the ceiling (correctness runs)")
    add("--embedded", action="store_true", help="embedded PostgreSQL and Redis under .data/bench")
    add("--database-url", default=d.database_url, help="its database is dropped and recreated")
    add("--redis-url", default=d.redis_url, help="this Redis database is flushed")
    add("--port-base", type=int, default=d.port_base, help="API; payments stub +1; ceiling +2")
    add("--api-core", type=_core, default=d.api_core, help="core of the API and the ceiling")
    add("--load-core", type=_core, default=d.load_core, help="core of the load driver")
    add("--connections", type=int, default=d.connections)
    add("--budget", dest="budget_s", type=float, default=0.0, help="seconds the load may take")
    add("--note", default="", help="conditions to keep with the result, e.g. 'quiet machine'")
    a = vars(p.parse_args(argv))
    scratch = a.pop("no_record") and Path(tempfile.mkdtemp(prefix="bench-"))
    a["out"] = a["out"] or scratch or RESULTS
    return Options(**a, command=shlex.join(["python", "-m", "bench.run", *argv]))


async def run(opts: Options) -> Report:
    # SIGINT or SIGTERM cancel the run, so the harness stops what it started (a shell's
    # background job starts with SIGINT ignored: install the handler all the same).
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    async with Harness(opts) as h:
        report = await SCENARIOS[opts.scenario](h)
        h.finish(report)
        return report


def main(argv: list[str] | None = None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    try:
        report = uvloop.run(run(opts))  # the API and the workers run on uvloop too
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: everything the run started is stopped", file=sys.stderr)
        return 130
    if not report.correct:
        print(f"FAILED correctness checks: {report.scenario} at scale {report.scale:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The challenge's load scenario against a running deployment, then its consistency.

    python -m tests.compose.load --base-url http://127.0.0.1:9999 --scale 0.1 \
        --psql "docker-compose -p crowdpass exec -T postgres psql -U crowdpass -d crowdpass"

The scenario is bench/scenarios/challenge.py's, driven from outside the deployment:
1. `clients` (100,000 x scale) customers are written in one INSERT through `--psql` (the
   same ids as the bench's: `c0000000-0000-4000-8000-<i hex>`);
2. read storm: `reads` (300,000 x scale) `GET /eventos/<Show de Rock>`;
3. purchase storm: each client sends one `POST /compras` for "Concerto de Jazz" (…440003:
   capacity 50, 45 sold by the seed: 90% sold);
both with the bench's load driver (bench/loadgen.py, 64 connections by default), through the
load balancer.
Meanwhile `docker stats --no-stream` is sampled (with --stats) for each container's peak
memory and CPU against its limit. Then the checks: every read 200; exactly 5 purchases
201 and the rest 422, nothing else, no socket error; from PostgreSQL: 50 tickets BOOKED
(sold never above capacity), 5 purchases by the storm's clients, no client with two
tickets of the event, no ticket sold twice; `GET /eventos` says 50 sold, "esgotado".
Exit status 0 only when every check passed. Needs a fresh seed (make compose-smoke).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from bench.httpclient import HttpPool
from bench.loadgen import LoadResult, drive
from bench.scenarios.challenge import purchases, reads
from bench.tokens import PREFIX

ROCK = "550e8400-e29b-41d4-a716-446655440001"
JAZZ = "550e8400-e29b-41d4-a716-446655440003"
CAPACITY, SEEDED_SOLD = 50, 45
READS, CLIENTS = 300_000, 100_000
# Tickets BOOKED; purchases by the storm's clients; clients with two tickets of the
# event; tickets sold twice (constants only: no input reaches these queries).
CONSISTENCY = (
    "SELECT count(*) FROM tickets WHERE event_id = '550e8400-e29b-41d4-a716-446655440003'"
    " AND status = 'BOOKED'",
    "SELECT count(*) FROM purchases WHERE event_id = '550e8400-e29b-41d4-a716-446655440003'"
    " AND customer_id::text LIKE 'c0000000-%'",
    "SELECT count(*) FROM (SELECT customer_id FROM purchases"
    " WHERE event_id = '550e8400-e29b-41d4-a716-446655440003'"
    " GROUP BY customer_id HAVING count(*) > 1) d",
    "SELECT count(*) FROM (SELECT ticket_id FROM purchases GROUP BY ticket_id HAVING count(*) > 1) d",
)
assert all(JAZZ in q for q in CONSISTENCY[:3]) and PREFIX["client"] == "c0000000"


@dataclass
class Peaks:
    """Peak memory (MiB) and CPU (% of one core) per container, from `docker stats`."""

    mem_mib: dict[str, float] = field(default_factory=dict)
    limit_mib: dict[str, float] = field(default_factory=dict)
    cpu_pct: dict[str, float] = field(default_factory=dict)
    samples: int = 0


_UNITS = {
    "B": 1 / 1024**2,
    "KiB": 1 / 1024,
    "MiB": 1.0,
    "GiB": 1024.0,
    "kB": 1e3 / 1024**2,
    "MB": 1e6 / 1024**2,
    "GB": 1e9 / 1024**2,
}


def _mib(text: str) -> float:
    text = text.strip()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text) / 1024**2


async def sample_stats(peaks: Peaks, stop: asyncio.Event, docker: list[str]) -> None:
    fmt = "{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}"
    while not stop.is_set():
        proc = await asyncio.create_subprocess_exec(
            *docker, "stats", "--no-stream", "--format", fmt, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        for line in out.decode().splitlines():
            name, cpu, mem = line.split("\t")
            used, _, limit = mem.partition(" / ")
            peaks.mem_mib[name] = max(peaks.mem_mib.get(name, 0.0), _mib(used))
            peaks.limit_mib[name] = _mib(limit)
            peaks.cpu_pct[name] = max(peaks.cpu_pct.get(name, 0.0), float(cpu.rstrip("%") or 0))
        peaks.samples += 1
        await asyncio.sleep(0.5)


def psql(command: str, sql: str) -> str:
    out = subprocess.run(
        [*shlex.split(command), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def insert_clients(command: str, count: int) -> None:
    prefix = PREFIX["client"]
    psql(
        command,
        f"""INSERT INTO customers (id, name, email, cpf, face)
            SELECT ('{prefix}-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
                   'Load client ' || i, 'client' || i || '@load.invalid', lpad(i::text, 11, '0'),
                   'challenge'
            FROM generate_series(0, {count - 1}) AS i
            ON CONFLICT DO NOTHING""",  # noqa: S608 (numbers and a constant prefix)
    )


def storm_line(name: str, r: LoadResult) -> str:
    lat = r.latency_ms
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
    return (
        f"{name}: {r.requests} requests in {r.seconds:.1f} s = {r.rate:,.0f} req/s; "
        f"p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms, "
        f"max {lat.get('max')} ms; "
        f"statuses {{{statuses}}}; socket errors {r.errors}"
    )


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.compose.load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--base-url", default="http://127.0.0.1:9999")
    p.add_argument("--scale", type=float, default=0.02, help="of 300,000 reads and 100,000 clients")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--psql", required=True, help="command that runs psql on the deployment's database")
    p.add_argument("--stats", default="", help="docker command to sample `stats` with, e.g. 'docker'")
    p.add_argument("--json", default="", help="write the figures here")
    args = p.parse_args(argv)
    n_reads = max(1000, round(READS * args.scale))
    clients = max(100, round(CLIENTS * args.scale))
    budget = max(120.0, (n_reads + clients) / 100)

    async with httpx.AsyncClient(base_url=args.base_url, timeout=10) as http:
        before = (await http.get(f"/eventos/{JAZZ}")).json()
    if before.get("ingressos_vendidos") != SEEDED_SOLD:
        print(f"the event {JAZZ} is not as the seed made it: {before}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    insert_clients(args.psql, clients)
    print(f"wrote {clients} clients in {time.monotonic() - t0:.1f} s")

    peaks, stop = Peaks(), asyncio.Event()
    sampler = asyncio.create_task(sample_stats(peaks, stop, shlex.split(args.stats))) if args.stats else None
    url = urlparse(args.base_url)
    pool = HttpPool(url.hostname or "127.0.0.1", url.port or 80, size=args.connections)
    read = await drive(pool, reads(n_reads), concurrency=args.connections, budget_s=budget)
    print(storm_line("read storm", read), flush=True)
    buy = await drive(pool, purchases(clients), concurrency=args.connections, budget_s=budget)
    print(storm_line("purchase storm", buy), flush=True)
    stop.set()
    if sampler:
        await sampler

    async with httpx.AsyncClient(base_url=args.base_url, timeout=10) as http:
        after = (await http.get(f"/eventos/{JAZZ}")).json()
    booked, by_storm, twice_client, twice_ticket = (int(psql(args.psql, q)) for q in CONSISTENCY)
    winners = CAPACITY - SEEDED_SOLD
    other = buy.requests - buy.statuses.get(201, 0) - buy.statuses.get(422, 0)
    checks = [
        ("every read answered 200", n_reads, read.statuses.get(200, 0)),
        ("every purchase answered", clients, buy.requests),
        ("purchases answered 201", winners, buy.statuses.get(201, 0)),
        ("purchases answered 422 (sold out)", clients - winners, buy.statuses.get(422, 0)),
        ("other statuses and socket errors", 0, other + buy.errors + read.errors),
        ("tickets BOOKED (never above capacity 50)", CAPACITY, booked),
        ("purchases by the storm's clients", winners, by_storm),
        ("clients with two tickets of the event", 0, twice_client),
        ("tickets sold twice", 0, twice_ticket),
        (
            "GET /eventos/:id after",
            [CAPACITY, "esgotado"],
            [after.get("ingressos_vendidos"), after["status"]],
        ),
    ]
    failed = 0
    for name, want, got in checks:
        ok = want == got
        failed += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {got}" + ("" if ok else f" (want {want})"))
    if peaks.samples:
        print(f"peaks over {peaks.samples} `docker stats --no-stream` samples (memory / limit, CPU %):")
        for name in sorted(peaks.mem_mib):
            print(
                f"  {name:28} {peaks.mem_mib[name]:7.1f} / {peaks.limit_mib[name]:6.0f} MiB"
                f"   CPU {peaks.cpu_pct[name]:6.1f}%"
            )
    if args.json:
        figures = {
            "reads": n_reads,
            "clients": clients,
            "read": read.figures(),
            "purchase": buy.figures(),
            "checks": {name: {"want": want, "got": got} for name, want, got in checks},
            "peaks": {
                n: {"mem_mib": peaks.mem_mib[n], "limit_mib": peaks.limit_mib[n], "cpu_pct": peaks.cpu_pct[n]}
                for n in peaks.mem_mib
            },
        }
        Path(args.json).write_text(json.dumps(figures, indent=2))  # noqa: ASYNC240 (once, at the end)
    print("load test: " + ("PASSED" if not failed else f"FAILED ({failed} checks)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))

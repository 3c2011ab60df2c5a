"""Storms: the loads of a scenario, declared (requests, how many, the statuses expected,
targets), each sent by the load driver over `connections` keep-alive connections (timing the
server's CPU too: rates per CPU-second), beside the ceiling of its own requests (bench/hello.py
served like the API on the API's core, measured before the system starts), then reported and
checked: every request answered within the budget, with the statuses expected; and the
correctness queries the scenarios share, read from PostgreSQL after a run."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import asyncpg

from bench.harness import ZERO_EVENT, Harness
from bench.httpclient import HttpPool, Response
from bench.loadgen import LoadResult, Request, drive
from bench.report import Figure, Report, at_most, ms, num, pct, target
from core.launcher import Command, uvicorn

# The ceiling answers the storm's own requests, at least 50,000 (a short burst would
# flatter it), at most 200,000.
CEILING_MIN, CEILING_MAX = 50_000, 200_000
PS = ("p50", "p95", "p99", "max")


@dataclass
class Storm:
    name: str
    make: Callable[[str], Iterator[Request]]  # the requests for an event id (ZERO_EVENT: the ceiling's)
    n: int
    expect: dict[int, int] | set[int]  # status -> answers, or the statuses allowed
    share: float = 0.0  # target: at least this share of the ceiling's rate
    p99_ms: float = 0.0  # target: p99 at most this
    per_cpu: bool = False  # the share's target per CPU-second of the server, not wall-clock
    shares_ceiling_of: str = ""  # another storm with the same requests
    on_response: Callable[[Request, Response], None] | None = None
    sources: list[str] | None = None  # source addresses, in turn
    result: LoadResult = field(default_factory=LoadResult)
    ceiling: LoadResult | None = None


async def send(h: Harness, s: Storm, requests: Iterator[Request], port: int, budget_s: float) -> LoadResult:
    n, server = h.opts.connections, "hello" if port == h.hello_port else "api"
    http, cpu_s = HttpPool("127.0.0.1", port, size=n, sources=s.sources), h.cpu_s(server)
    on_response = s.on_response if server == "api" else None  # the ceiling's answers are not the API's
    try:
        result = await drive(http, requests, concurrency=n, budget_s=budget_s, on_response=on_response)
    finally:
        await http.close()
    result.cpu_s = h.cpu_s(server) - cpu_s  # CPU seconds the server (API or hello) spent meanwhile
    return result


async def measure_ceilings(h: Harness, storms: list[Storm]) -> None:
    by_name = {s.name: s for s in storms}
    for s in storms:
        if s.shares_ceiling_of or not h.opts.ceiling:
            s.ceiling = by_name[s.shares_ceiling_of].ceiling if s.shares_ceiling_of else None
            continue
        hello = uvicorn("bench.hello:create_app", host="127.0.0.1", port=h.hello_port, factory=True)
        h.processes.start(Command("hello", hello, h.api_cpus()))
        try:
            await asyncio.to_thread(h.processes.wait_http, f"http://127.0.0.1:{h.hello_port}/")
            repeated = itertools.chain.from_iterable(s.make(ZERO_EVENT) for _ in itertools.count())
            n = max(CEILING_MIN, min(s.n, CEILING_MAX))
            s.ceiling = await send(h, s, itertools.islice(repeated, n), h.hello_port, 300)
        finally:
            await asyncio.to_thread(h.processes.stop, "hello")


async def load(h: Harness, s: Storm, event_id: str, budget_s: float) -> LoadResult:
    s.result = await send(h, s, s.make(event_id), h.api_port, budget_s)
    return s.result


def report_storm(report: Report, s: Storm) -> None:
    """Answers by status, rate and rate per CPU-second of the API process (and their shares
    of the ceiling's) and latency, with their targets; the ceiling's own figures; the
    checks; the raw figures."""
    r, c = s.result, s.ceiling
    statuses = ", ".join(f"{k}: {num(v)}" for k, v in sorted(r.statuses.items()))
    if c:
        seen = f"{num(c.rate)} req/s ({num(c.per_cpu_s)} per CPU-s), p50 {ms(c.latency_ms['p50'])}"
        report.ceiling.append(f"{s.name}: {seen}, p99 {ms(c.latency_ms['p99'])} ({num(c.requests)} requests)")
    else:
        report.ceiling.append(f"{s.name}: not measured")
    ours, theirs = (r.per_cpu_s, c.per_cpu_s) if s.per_cpu and c else (r.rate, c.rate if c else 0.0)
    per = " per API CPU-second" if s.per_cpu else ""
    share = target(ours >= s.share * theirs, f"≥ {s.share:.0%} of ceiling{per}") if c and s.share else ""
    p99 = at_most(r.latency_ms["p99"], s.p99_ms, f"p99 ≤ {s.p99_ms:g} ms") if s.p99_ms else ""
    ratios = f"{pct(r.rate, c.rate)}; {pct(r.per_cpu_s, c.per_cpu_s)}" if c else ""
    rate = f"{num(r.rate)} req/s over {r.seconds:.1f} s; {num(r.per_cpu_s)} per CPU-s"
    lat = " / ".join(ms(r.latency_ms.get(k)) for k in PS)
    report.figures += [
        Figure(f"{s.name}: answers (by status)", f"{num(r.requests)} ({statuses}); errors {r.errors}"),
        Figure(f"{s.name}: rate; per API CPU-second (ratios: to the ceiling's)", rate, ratios, share),
        Figure(f"{s.name}: latency p50 / p95 / p99 / max", lat, target=p99),
    ]
    report.check(f"{s.name}: every request answered within the budget", (s.n, True), (r.requests, r.complete))
    if isinstance(s.expect, set):
        report.check(f"{s.name}: statuses; errors", (s.expect, 0), (s.expect | set(r.statuses), r.errors))
    else:
        report.check(f"{s.name}: answers by status; errors", (s.expect, 0), (r.statuses, r.errors))
    report.raw[s.name] = {**r.figures(), "ceiling": c.figures() if c else None}


async def run_storms(
    h: Harness,
    report: Report,
    storms: list[Storm],
    budget_s: float,
    prepare: Callable[[], Awaitable[dict[str, str]]] | None = None,
) -> dict[str, str]:
    """Ceilings, then the system and `prepare()` (the event id of each storm, by name), each
    storm in turn, memory, the report; returns the event ids."""
    await measure_ceilings(h, storms)
    await h.start_system()
    ids = await prepare() if prepare else {}
    for s in storms:
        await load(h, s, ids.get(s.name, ""), budget_s)
    await h.stop_memory(report)
    for s in storms:
        report_storm(report, s)
    return ids


async def repeated(pg: asyncpg.Connection, *, table: str, column: str, event_id: str | None = None) -> int:
    """How many values of `column` appear more than once in `table` (of one event, or all);
    `table` and `column` are this package's constants, never input."""
    where = "WHERE event_id = $1" if event_id else ""
    sql = f"SELECT count(*) FROM (SELECT {column} FROM {table} {where} GROUP BY 1 HAVING count(*) > 1) d"  # noqa: S608
    value = await (pg.fetchval(sql, event_id) if event_id else pg.fetchval(sql))
    return int(value)


async def ticket_counts(pg: asyncpg.Connection, event_id: str) -> tuple[int, int]:
    """(sold, held) tickets of an event: BOOKED and IN_PROGRESS rows."""
    row = await pg.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'BOOKED') AS sold,
                  count(*) FILTER (WHERE status = 'IN_PROGRESS') AS held
           FROM tickets WHERE event_id = $1""",
        event_id,
    )
    assert row is not None
    return int(row["sold"]), int(row["held"])


async def check_sold_once(report: Report, pg: asyncpg.Connection, event_id: str, *, who: str) -> None:
    """Nobody (`who`) holds two tickets of the event, and no ticket is sold twice."""
    twice = await repeated(pg, table="purchases", column="customer_id", event_id=event_id)
    report.check(f"{who} with more than one ticket", 0, twice)
    report.check("tickets sold twice", 0, await repeated(pg, table="purchases", column="ticket_id"))

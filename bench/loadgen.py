"""The asyncio driver: the same request streams as the wrk scripts, for machines without
wrk (and for the smoke test). Results come back as a `WrkResult` so the scenarios do not
care which driver ran. Latency is measured from writing a request to reading its whole
answer, like wrk's.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.httpclient import HttpError, HttpPool, Response
from bench.stats import percentile
from bench.wrk import WrkResult

Request = tuple[str, str, dict[str, str], bytes | None]


async def drive(
    pool: HttpPool,
    requests: Iterator[Request],
    *,
    concurrency: int,
    budget_s: float,
    on_response: Callable[[Request, Response], None] | None = None,
) -> WrkResult:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    first = last = 0.0
    deadline = time.monotonic() + budget_s
    complete = True

    async def worker() -> None:
        nonlocal errors, first, last, complete
        for req in requests:
            method, path, headers, body = req
            if time.monotonic() > deadline:
                complete = False
                return
            if not first:
                first = time.time()
            try:
                r = await pool.request(method, path, headers=headers, body=body)
            except HttpError:
                errors += 1
                continue
            latencies.append(r.elapsed)
            statuses[r.status] += 1
            last = time.time()
            if on_response is not None:
                on_response(req, r)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = last - first if last > first else 0.0
    lat = {
        f"p{p}".replace(".", ""): round((percentile(latencies, p) or 0) * 1000, 2)
        for p in (50, 90, 95, 99, 99.9)
    }
    lat["max"] = round(max(latencies, default=0) * 1000, 2)
    return WrkResult(
        command=["python", "-m", "bench.loadgen"],
        requests=len(latencies),
        seconds=seconds,
        rate=len(latencies) / seconds if seconds else 0.0,
        statuses=dict(statuses),
        errors={"connect": errors, "status": sum(n for s, n in statuses.items() if s > 399)},
        latency_ms=lat,
        complete=complete,
        first_s=first,
        last_s=last,
    )


def attempt_lines(path: Path, limit: int, build: Callable[[str, str], Request]) -> Iterator[Request]:
    with path.open() as f:
        for n, line in enumerate(f):
            if n >= limit:
                return
            token, key = line.rstrip("\n").split(" ", 1)
            yield build(token, key)

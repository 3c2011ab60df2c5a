"""Storms: the loads of a scenario, declared (requests, how many, the statuses expected,
targets), each measured beside the ceiling of its own requests (taken before the system
starts) and checked: every request answered within the budget, with the statuses expected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from bench.harness import ZERO_EVENT, Harness
from bench.httpclient import Response
from bench.loadgen import LoadResult, Request
from bench.report import Report, target


@dataclass
class Storm:
    name: str
    make: Callable[[str], Iterator[Request]]  # the requests for an event id (ZERO_EVENT: the ceiling's)
    n: int
    expect: dict[int, int] | set[int]  # status -> answers, or the statuses allowed
    share: float = 0.0  # target: at least this share of the ceiling's rate
    p99_ms: float = 0.0  # target: p99 at most this
    shares_ceiling_of: str = ""  # another storm with the same requests
    on_response: Callable[[Request, Response], None] | None = None
    sources: list[str] | None = None
    result: LoadResult = field(default_factory=LoadResult)
    ceiling: LoadResult | None = None


async def measure_ceilings(h: Harness, storms: list[Storm]) -> None:
    by_name = {s.name: s for s in storms}
    for s in storms:
        if s.shares_ceiling_of:
            s.ceiling = by_name[s.shares_ceiling_of].ceiling
        else:
            s.ceiling = await h.ceiling(lambda s=s: s.make(ZERO_EVENT), s.n, s.sources)  # type: ignore[misc]


async def load(h: Harness, s: Storm, event_id: str, budget_s: float) -> LoadResult:
    s.result = await h.load(s.make(event_id), budget_s=budget_s, sources=s.sources, on_response=s.on_response)
    return s.result


def report_storm(report: Report, s: Storm) -> None:
    """Figures and targets beside the ceiling; the checks; the raw figures."""
    r, ceiling = s.result, s.ceiling
    report.load_figures(s.name, r, ceiling)
    if ceiling is not None and s.share:
        report.figures[-2].target = target(r.rate >= s.share * ceiling.rate, f"≥ {s.share:.0%} of ceiling")
    if s.p99_ms:
        report.figures[-1].target = target(r.latency_ms["p99"] <= s.p99_ms, f"p99 ≤ {s.p99_ms:g} ms")
    report.check(f"{s.name}: every request answered within the budget", (s.n, True), (r.requests, r.complete))
    if isinstance(s.expect, set):
        report.check(f"{s.name}: statuses; errors", (s.expect, 0), (s.expect | set(r.statuses), r.errors))
    else:
        report.check(f"{s.name}: answers by status; errors", (s.expect, 0), (r.statuses, r.errors))
    report.raw[s.name] = {**r.figures(), "ceiling": ceiling.figures() if ceiling else None}


async def run_storms(
    h: Harness,
    report: Report,
    storms: list[Storm],
    budget_s: float,
    prepare: Callable[[], Awaitable[dict[str, str]]],
) -> dict[str, str]:
    """Ceilings, then the system and `prepare()` (the event id of each storm, by name), each
    storm in turn, memory, the report; returns the event ids."""
    await measure_ceilings(h, storms)
    await h.start_system()
    ids = await prepare()
    for s in storms:
        await load(h, s, ids.get(s.name, ""), budget_s)
    await h.stop_memory(report)
    for s in storms:
        report_storm(report, s)
    return ids

"""arq tasks of the orders side: the live stock push and the reconcile cron. (Orders
themselves are decided by the orders worker from the stream: jobs/orders_worker.py.)

- `live.push_stock` (default queue): coalesced stock push of one event; keeps no result
  so that its per-event job id can be used again at once.
- `cron:orders.reconcile` (default queue, every 15 s): repair Redis, check invariants,
  add stranded orders to the stream again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from arq import Retry, cron, func

from core.ops import JOB_SECONDS
from core.resources import Resources
from reservations import keys
from reservations.live import service as live
from reservations.orders import reconcile

log = logging.getLogger("crowdpass.jobs.orders")

Task = Callable[..., Coroutine[Any, Any, Any]]


def timed(name: str) -> Callable[[Task], Task]:
    """Observe the job's run time in crowdpass_job_seconds{function, outcome}."""

    def wrap(task: Task) -> Task:
        @functools.wraps(task)
        async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            outcome = "failed"
            try:
                result = await task(ctx, *args, **kwargs)
                outcome = "succeeded"
                return result
            except Retry:
                outcome = "retried"
                raise
            finally:
                JOB_SECONDS.labels(name, outcome).observe(time.perf_counter() - start)

        return run

    return wrap


@timed(keys.PUSH_STOCK_JOB)
async def push_stock(ctx: dict[str, Any], event_id: str) -> bool:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        return await live.push_stock(conn, res.redis, res.publisher, event_id=UUID(event_id))


@timed("orders.reconcile")
async def reconcile_orders(ctx: dict[str, Any]) -> dict[str, Any]:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        report = await reconcile.reconcile(conn, res.redis)
    if not report.check.ok:
        log.error("invariant check found %d violation(s)", len(report.check.violations))
    return {
        "events": report.events,
        "sold_out": report.sold_out,
        "requeued": report.requeued,
        "unreserved_repaired": report.unreserved_repaired,
        "ok": report.check.ok,
        "violations": len(report.check.violations),
        "skipped": [str(e) for e in report.skipped],
    }


# Default queue.
default_functions: list[Any] = [
    func(push_stock, name=keys.PUSH_STOCK_JOB, keep_result=0, max_tries=3, timeout=10),
]
cron_jobs: list[Any] = [
    cron(
        reconcile_orders,
        name="cron:orders.reconcile",
        second={0, 15, 30, 45},
        run_at_startup=True,
        keep_result=3600,
        timeout=60,
    ),
]

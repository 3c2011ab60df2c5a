"""arq tasks: orders (queue ticket_orders), the live stock push and the reconcile cron.

- `orders.decide` (ticket_orders): decide one accepted order. Retried (arq `Retry`) while
  the database or the payment provider is busy; re-run by arq when a worker died with it.
  The request id of `POST /api/orders` arrives as an argument and tags every log line.
- `live.push_stock` (default queue): coalesced stock push of one event; keeps no result
  so that its per-event job id can be used again at once.
- `cron:orders.reconcile` (default queue, every 15 s): repair Redis, check invariants,
  re-enqueue stranded orders.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from arq import Retry, cron, func

from core.config import get_settings
from core.logs import request_id as request_id_var
from core.ops import JOB_SECONDS
from core.resources import Resources
from reservations import keys
from reservations.live import service as live
from reservations.orders import reconcile
from reservations.orders.decisions import RetryLater
from reservations.orders.desk import OrderDesk

log = logging.getLogger("crowdpass.jobs.orders")

Task = Callable[..., Coroutine[Any, Any, Any]]

# One desk (its batchers) per Resources, i.e. per worker process.
_desks: dict[int, OrderDesk] = {}


def _desk(res: Resources) -> OrderDesk:
    desk = _desks.get(id(res))
    if desk is None or desk.res is not res:
        desk = _desks[id(res)] = OrderDesk(res, max_batch=max(1, get_settings().orders_max_jobs))
    return desk


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


@timed(keys.DECIDE_ORDER_JOB)
async def decide_order(ctx: dict[str, Any], order_id: str, request_id: str | None = None) -> str:
    token = request_id_var.set(request_id)
    try:
        desk = _desk(ctx["res"])
        try:
            return await desk.decide_order(order_id=UUID(order_id), job_try=ctx.get("job_try", 1))
        except RetryLater as exc:
            log.info(
                "order not decided yet, retrying in %.1fs: %s", exc.delay_s, exc, extra={"order_id": order_id}
            )
            raise Retry(defer=exc.delay_s) from exc
    finally:
        request_id_var.reset(token)


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


# Queue ticket_orders. A dead worker's job runs again once its in-progress mark expires
# (arq: the job timeout + 10 s); a decision needs at most a few seconds.
functions: list[Any] = [
    func(decide_order, name=keys.DECIDE_ORDER_JOB, max_tries=50, timeout=get_settings().orders_job_timeout_s),
]
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

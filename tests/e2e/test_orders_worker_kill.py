"""An orders worker killed with SIGKILL in the middle of its work, then started again:
every order is decided exactly once and charged at most once.

The worker and the payments stub run as real processes here (`python -m jobs orders`,
`uvicorn payments_stub.app:app`), so the kill loses whatever was in flight.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from core.resources import Resources
from tests.e2e.processes import WorkerProcess, assert_sold_and_charged_once, payments_stub
from tests.factories import make_customers, make_event
from tests.integration.reservations.orders.helpers import post_order, wait_decided

pytestmark = pytest.mark.e2e

ORDERS = 200
TICKETS = 120
JOB_TIMEOUT_S = 5  # a decision that takes longer than this is tried again


@pytest.fixture
def payments_url(tmp_path: Path) -> Iterator[str]:
    with payments_stub(tmp_path / "payments.log") as url:
        yield url


@pytest.fixture
async def worker_process(res: Resources, payments_url: str, tmp_path: Path) -> AsyncIterator[WorkerProcess]:
    env = os.environ | {
        "DATABASE_URL": res.settings.database_url,
        "REDIS_URL": res.settings.redis_url,
        "PAYMENTS_URL": payments_url,
        "ORDERS_JOB_TIMEOUT_S": str(JOB_TIMEOUT_S),
        "ORDERS_PER_S": "60",  # slow enough to be caught in the middle
        "LOG_JSON": "1",
    }
    w = WorkerProcess(env, tmp_path / "worker.log")
    yield w
    w.stop()


async def test_a_killed_worker_leaves_no_order_undecided_or_charged_twice(
    res: Resources, client: httpx.AsyncClient, worker_process: WorkerProcess, payments_url: str
) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, ORDERS)
        event_id = await make_event(conn, capacity=TICKETS, price_cents=3000)
    responses = await asyncio.gather(*(post_order(client, c, event_id) for c in customers))
    assert {r.status_code for r in responses} == {202}
    ids = [uuid.UUID(r.json()["id"]) for r in responses]

    worker_process.start()
    deadline = time.monotonic() + 30
    while await res.pool.fetchval("SELECT count(*) FROM orders WHERE status <> 'queued'") < 40:
        assert time.monotonic() < deadline, worker_process.log.read_text()[-3000:]
        await asyncio.sleep(0.02)
    worker_process.kill()
    decided_at_kill = await res.pool.fetchval("SELECT count(*) FROM orders WHERE status <> 'queued'")
    in_flight = await res.pool.fetchval(
        "SELECT count(*) FROM orders o JOIN holds h ON h.id = o.hold_id WHERE o.status = 'queued'"
    )
    assert decided_at_kill < ORDERS  # killed in the middle

    worker_process.start()
    rows = await wait_decided(res.pool, ids, timeout_s=60)

    statuses = Counter((r["status"], r["reason"]) for r in rows.values())
    assert statuses == {("confirmed", None): TICKETS, ("rejected", "sold_out"): ORDERS - TICKETS}
    await assert_sold_and_charged_once(res, payments_url, event_id=event_id, tickets=TICKETS, rows=rows)
    print(f"\nkilled with {decided_at_kill} decided and {in_flight} reserved but unsettled")

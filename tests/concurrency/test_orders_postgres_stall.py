"""PostgreSQL stalled: orders are still accepted at once, and all decided afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from core.resources import Resources
from reservations.orders.service import refresh_event_meta
from tests.factories import make_customers, make_event, stock_counts
from tests.integration.reservations.orders.helpers import post_order, wait_decided, wait_idle

pytestmark = pytest.mark.concurrency

STALL_S = 10.0
ORDERS = 100
TICKETS = 60


async def test_orders_are_accepted_fast_while_tickets_are_locked(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, ORDERS)
        event_id = await make_event(conn, capacity=TICKETS)
        await refresh_event_meta(conn, res.redis, event_id=event_id)  # as event creation does

    latencies: list[float] = []
    ids: list[uuid.UUID] = []
    locked = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_lock() -> float:
        async with res.pool.acquire() as locker, locker.transaction():
            await locker.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
            locked.set()
            start = time.monotonic()
            await release.wait()
            return time.monotonic() - start

    locker_task = asyncio.create_task(hold_the_lock())
    await locked.wait()
    stall_start = time.monotonic()
    for i, customer in enumerate(customers):  # spread over the stall
        started = time.monotonic()
        r = await post_order(client, customer, event_id)
        latencies.append(time.monotonic() - started)
        assert r.status_code == 202, r.text
        ids.append(uuid.UUID(r.json()["id"]))
        await asyncio.sleep(max(0.0, stall_start + (i + 1) * STALL_S * 0.95 / ORDERS - time.monotonic()))
    decided_during_stall = await res.pool.fetchval("SELECT count(*) FROM orders WHERE status <> 'queued'")
    await asyncio.sleep(max(0.0, stall_start + STALL_S - time.monotonic()))
    release.set()
    held_for = await locker_task
    assert held_for >= STALL_S - 0.5
    assert decided_during_stall == 0  # nothing could be decided while the tickets were locked
    assert max(latencies) < 0.2, f"slowest accept {max(latencies) * 1000:.0f} ms"

    rows = await wait_decided(res.pool, ids, timeout_s=30)
    assert sorted(r["status"] for r in rows.values()).count("confirmed") == TICKETS
    assert {r["reason"] for r in rows.values() if r["status"] == "rejected"} == {"sold_out"}
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == TICKETS
    await wait_idle(res.redis)
    print(f"\naccept latency during the stall: max {max(latencies) * 1000:.1f} ms")

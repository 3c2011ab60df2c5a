"""The orders worker as a consumer of the stream: takeover of a stopped consumer's entries,
none of a live one's, and a graceful stop."""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec

from core.queues import ORDERS_GROUP, ORDERS_QUEUE
from core.resources import Resources
from jobs.orders_worker import OrdersConsumer
from payments_stub.service import PM_SLOW as SLOW_CARD
from reservations import keys
from reservations.orders.schemas import OrderCreate
from reservations.orders.service import place_order
from tests.factories import make_customers, make_event
from tests.integration.reservations.orders.helpers import PM_OK, client_address, wait_decided


async def _place_many(res: Resources, n: int, *, capacity: int = 10, card: str = PM_OK) -> list[uuid.UUID]:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, n)
        event_id = await make_event(conn, capacity=capacity)
    ids = []
    for c in customers:
        placed = await place_order(
            res,
            customer_id=c,
            data=OrderCreate(event_id=event_id, payment_method=card),
            idempotency_key=uuid.uuid4().hex,
            request_id=None,
            client_ip=client_address(c),
        )
        assert placed.order is not None
        ids.append(placed.order.id)
    return ids


async def _pending(res: Resources) -> dict[str, int]:
    return {
        c["name"].decode(): c["pending"] for c in await res.redis.xinfo_consumers(ORDERS_QUEUE, ORDERS_GROUP)
    }


async def test_a_stopped_consumers_entries_are_taken_over_and_decided(res: Resources) -> None:
    ids = await _place_many(res, 5)
    await res.redis.xgroup_create(ORDERS_QUEUE, ORDERS_GROUP, id="0", mkstream=True)
    # A worker that read the entries and died without a word.
    await res.redis.xreadgroup(ORDERS_GROUP, "dead:1", {ORDERS_QUEUE: ">"}, count=10)
    assert (await _pending(res))["dead:1"] == 5
    live = OrdersConsumer(res, name="live:2", claim_idle_ms=500, keep_every_s=0.1, block_ms=50)
    task = asyncio.create_task(live.run())
    try:
        start = time.monotonic()
        rows = await wait_decided(res.pool, ids)
        assert time.monotonic() - start < 5
        assert {r["status"] for r in rows.values()} == {"confirmed"}
        assert live.taken_over == 5
        for _ in range(100):
            if await res.redis.xlen(ORDERS_QUEUE) == 0:
                break
            await asyncio.sleep(0.02)
        assert await res.redis.xlen(ORDERS_QUEUE) == 0  # acknowledged and deleted
        assert (await _pending(res))["dead:1"] == 0
    finally:
        live.stop()
        await task


async def test_a_live_consumers_entries_in_flight_are_not_taken_over(res: Resources) -> None:
    # The provider takes 2 s for this card: far longer than the takeover idle time.
    ids = await _place_many(res, 3, card=SLOW_CARD)
    slow = OrdersConsumer(res, name="slow:1", claim_idle_ms=300, keep_every_s=0.1, block_ms=50)
    slow_task = asyncio.create_task(slow.run())
    for _ in range(200):  # it has read them
        if len(slow.inflight) == 3:
            break
        await asyncio.sleep(0.01)
    other = OrdersConsumer(res, name="other:2", claim_idle_ms=300, keep_every_s=0.1, block_ms=50)
    other_task = asyncio.create_task(other.run())
    try:
        await asyncio.sleep(1.0)
        assert (await _pending(res))["slow:1"] == 3
        rows = await wait_decided(res.pool, ids)
        assert {r["status"] for r in rows.values()} == {"confirmed"}
        assert other.taken_over == 0
    finally:
        slow.stop()
        other.stop()
        await asyncio.gather(slow_task, other_task)


async def test_a_stopped_worker_finishes_what_it_holds_and_leaves_the_group(res: Resources) -> None:
    ids = await _place_many(res, 4)
    worker = OrdersConsumer(res, name="stopping:1", block_ms=50)
    task = asyncio.create_task(worker.run())
    for _ in range(200):
        if worker.inflight:
            break
        await asyncio.sleep(0.01)
    worker.stop()
    await asyncio.wait_for(task, timeout=30)
    rows = await res.pool.fetch("SELECT id FROM orders WHERE status <> 'queued' AND id = ANY($1)", ids)
    assert await res.redis.xlen(ORDERS_QUEUE) == 4 - len(rows)  # what it read is decided and acknowledged
    assert "stopping:1" not in await _pending(res)
    for r in rows:
        assert await res.redis.hget(keys.order(r["id"]), "status") != b"queued"


async def test_the_worker_starts_again_when_redis_lost_the_stream(res: Resources) -> None:
    worker = OrdersConsumer(res, name="survivor:1", block_ms=50, keep_every_s=0.1)
    task = asyncio.create_task(worker.run())
    try:
        first = await _place_many(res, 1)
        await wait_decided(res.pool, first)
        await res.redis.delete(ORDERS_QUEUE)  # the stream and its group are gone (Redis emptied)
        later = await _place_many(res, 2)  # the gate makes a new stream, without the group
        rows = await wait_decided(res.pool, later)
        assert {r["status"] for r in rows.values()} == {"confirmed"}
        assert not task.done()
    finally:
        worker.stop()
        await task


async def test_orders_decided_together_are_acknowledged_together(res: Resources) -> None:
    ids = await _place_many(res, 120, capacity=100)
    worker = OrdersConsumer(res, name="acks:1", block_ms=50)
    task = asyncio.create_task(worker.run())
    try:
        rows = await wait_decided(res.pool, ids)
        for _ in range(200):
            if await res.redis.xlen(ORDERS_QUEUE) == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await task
    assert sorted(r["status"] for r in rows.values()).count("confirmed") == 100
    assert await res.redis.xlen(ORDERS_QUEUE) == 0  # every entry acknowledged and deleted
    assert "acks:1" not in await _pending(res)  # none left pending: it left the group
    assert worker._acks.items == 120
    assert worker._acks.batches < 60  # several entries per MULTI
    recent = await res.redis.lrange(keys.orders_recent(), 0, -1)
    assert len(recent) == 50  # the monitor keeps its last 50 lines
    assert {msgspec.json.decode(r)["id"] for r in recent} <= {str(i) for i in ids}

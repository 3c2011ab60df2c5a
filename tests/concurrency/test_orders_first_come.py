"""First come, first served (invariant 8) with several orders workers on one stream, and a
decision made twice at once: the gate's stock bound is removed, so more orders are
accepted than there are tickets, and the workers' reserve steps race for the last ones.

The control shows the race is real: the same reserve step run without the earlier orders'
claims (`ahead`) lets a later batch take the tickets an earlier order needed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.resources import Resources
from jobs.orders_worker import OrdersConsumer
from reservations import keys
from reservations.orders.decisions import Reserved, WaitForEarlier, Waiting, reserve_orders
from reservations.orders.desk import OrderDesk, _intent
from reservations.orders.schemas import OrderCreate
from reservations.orders.service import place_order
from tests.factories import make_customers, make_event, stock_counts
from tests.integration.reservations.orders.helpers import (
    PM_DECLINED,
    PM_OK,
    client_address,
    wait_decided,
    wait_idle,
)

pytestmark = pytest.mark.concurrency

ORDERS = 600
TICKETS = 150
WORKERS = 3


async def _place(
    res: Resources, customer: uuid.UUID, event_id: uuid.UUID, *, quantity: int = 1, card: str = PM_OK
) -> uuid.UUID:
    placed = await place_order(
        res,
        customer_id=customer,
        data=OrderCreate(event_id=event_id, payment_method=card, quantity=quantity),
        idempotency_key=uuid.uuid4().hex,
        request_id=None,
        client_ip=client_address(customer),
    )
    assert placed.order is not None, placed.refusal
    return placed.order.id


@pytest.fixture
async def three_workers(res: Resources) -> AsyncIterator[list[OrdersConsumer]]:
    """Three orders workers in this event loop, each with its own batchers, small batches."""
    consumers = [
        OrdersConsumer(res, name=f"worker-{n}", max_jobs=20, block_ms=50, keep_every_s=0.2)
        for n in range(WORKERS)
    ]
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    yield consumers
    for c in consumers:
        c.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)


async def test_no_earlier_order_is_sold_out_while_a_later_one_is_confirmed(
    res: Resources, three_workers: list[OrdersConsumer]
) -> None:
    rng = random.Random(8)
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, ORDERS)
        event_id = await make_event(conn, capacity=TICKETS, max_per_customer=3)
    await res.redis.delete(keys.available(event_id))  # no stock bound: every order is accepted
    ids: list[uuid.UUID] = []
    for start in range(0, ORDERS, 50):  # in waves, while the workers decide the earlier ones
        ids += await asyncio.gather(
            *(
                _place(
                    res,
                    c,
                    event_id,
                    quantity=rng.choice((1, 1, 2, 3)),
                    card=PM_DECLINED if rng.random() < 0.1 else PM_OK,
                )
                for c in customers[start : start + 50]
            )
        )
        await asyncio.sleep(0.01)
    await wait_decided(res.pool, ids, timeout_s=90)
    rows = await res.pool.fetch(
        "SELECT id, status, reason, seq, quantity FROM orders WHERE event_id = $1", event_id
    )
    assert len(rows) == ORDERS and {r["seq"] for r in rows} == set(range(1, ORDERS + 1))
    confirmed = [r["seq"] for r in rows if r["status"] == "confirmed"]
    sold_out = [r["seq"] for r in rows if r["reason"] == "sold_out"]
    assert confirmed and sold_out
    assert max(confirmed) < min(sold_out), "an earlier order was sold out while a later one was confirmed"
    assert {r["reason"] for r in rows if r["status"] == "rejected"} <= {"sold_out", "payment_declined"}
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert counts["BOOKED"] == sum(r["quantity"] for r in rows if r["status"] == "confirmed")
    assert counts["IN_PROGRESS"] == 0 and counts["BOOKED"] + counts["AVAILABLE"] == TICKETS
    # The tickets went to the orders in acceptance order: the first order refused found
    # fewer tickets than it asked for, all held by earlier orders (served, or reserved and
    # then declined: those tickets came back after it was refused).
    first_refused = min(sold_out)
    held_before = sum(
        r["quantity"]
        for r in rows
        if r["seq"] < first_refused and (r["status"] == "confirmed" or r["reason"] == "payment_declined")
    )
    quantity = next(r["quantity"] for r in rows if r["seq"] == first_refused)
    assert held_before + quantity > TICKETS
    await wait_idle(res.redis)  # every entry acknowledged, every order announced


async def _intents(res: Resources, order_ids: list[uuid.UUID]) -> list[Any]:
    return [_intent(i, await res.redis.hgetall(keys.order(i))) for i in order_ids]  # type: ignore[misc]


async def test_a_later_order_waits_for_the_tickets_earlier_ones_need(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, 4)
        event_id = await make_event(conn, capacity=2)
    await res.redis.delete(keys.available(event_id))
    ids = [await _place(res, c, event_id) for c in customers]  # seq 1..4
    desk = OrderDesk(res)
    # The two later orders reach a worker first: they wait, and take nothing.
    for later in ids[2:]:
        with pytest.raises(WaitForEarlier):
            await desk.decide_order(order_id=later)
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["AVAILABLE"] == 2
    assert [await desk.decide_order(order_id=i) for i in ids[:2]] == ["confirmed", "confirmed"]
    assert [await desk.decide_order(order_id=i) for i in ids[2:]] == ["rejected", "rejected"]
    rows = await wait_decided(res.pool, ids)
    assert [rows[i]["reason"] for i in ids] == [None, None, "sold_out", "sold_out"]


async def test_control_without_the_earlier_orders_a_later_batch_takes_their_tickets(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, 4)
        event_id = await make_event(conn, capacity=2)
    await res.redis.delete(keys.available(event_id))
    ids = [await _place(res, c, event_id) for c in customers]
    later = await _intents(res, ids[2:])
    guarded = {event_id: [(1, 1), (2, 1)]}  # what Redis says: seq 1 and 2 are not reserved yet
    async with res.pool.acquire() as conn:
        out, _ = await reserve_orders(conn, intents=later, lock_timeout_ms=2000, ahead=guarded)
        assert all(isinstance(out[i.order_id], Waiting) for i in later)
        # The guard off: the later batch takes both tickets ahead of the earlier orders.
        out, _ = await reserve_orders(conn, intents=later, lock_timeout_ms=2000, ahead=None)
        assert all(isinstance(out[i.order_id], Reserved) for i in later)


async def test_an_order_decided_twice_at_once_is_sold_and_charged_once(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, 1)
        event_id = await make_event(conn, capacity=5, price_cents=4000)
    order_id = await _place(res, customers[0], event_id)
    # Two workers (their own batchers) got the same entry: a takeover of a live worker.
    first, second = OrderDesk(res), OrderDesk(res)
    announced: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: announced.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("crowdpass.orders")
    logger.addHandler(handler)
    try:
        results = await asyncio.gather(
            *(d.decide_order(order_id=order_id) for d in (first, second, first, second))
        )
    finally:
        logger.removeHandler(handler)
    assert results == ["confirmed"] * 4
    assert announced.count("order confirmed") == 1  # the customer hears it once
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        purchases = await conn.fetchval("SELECT count(*) FROM purchases WHERE order_id = $1", order_id)
        holds = await conn.fetchval("SELECT count(*) FROM holds WHERE event_id = $1", event_id)
    assert counts["BOOKED"] == 1 and counts["IN_PROGRESS"] == 0 and purchases == 1 and holds == 1
    charges = (await res.http.get("/v1/charges", params={"description": f"order {order_id}"})).json()[
        "charges"
    ]
    assert len(charges) == 1
    assert await res.redis.hget(keys.order(order_id), "status") == b"confirmed"

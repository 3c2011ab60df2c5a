"""The order gate's stock bound: accepted, unreserved tickets never exceed the available
ones; the count is released once per order and repaired by reconcile."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from core.resources import Resources
from reservations import keys
from reservations.live import service as live
from reservations.orders.decisions import reserve_orders
from reservations.orders.desk import OrderDesk, _intent
from reservations.orders.reconcile import reconcile
from reservations.orders.service import release_unreserved, unreserved_tickets
from tests.factories import make_customers, make_event
from tests.integration.reservations.orders.helpers import (
    PM_DECLINED,
    PM_OK,
    create_event,
    post_order,
    wait_decided,
    wait_idle,
)


async def _event(res: Resources, *, capacity: int, customers: int) -> tuple[list[uuid.UUID], uuid.UUID]:
    async with res.pool.acquire() as conn:
        people = await make_customers(conn, customers)
        event_id = await make_event(conn, capacity=capacity)
        await live.current_stock(conn, res.redis, event_id=event_id)  # as event creation does
    return people, event_id


async def _available(res: Resources, event_id: uuid.UUID) -> int | None:
    raw = await res.redis.get(keys.available(event_id))
    return None if raw is None else int(raw)


async def test_an_event_created_through_the_api_is_bounded_from_its_first_order(
    res: Resources, client: httpx.AsyncClient
) -> None:
    created = await create_event(client, res.settings.admin_token, capacity=2)
    event_id = uuid.UUID(created.json()["id"])
    assert await _available(res, event_id) == 2
    async with res.pool.acquire() as conn:
        people = await make_customers(conn, 3)
    got = [(await post_order(client, c, event_id)).status_code for c in people]
    assert got == [202, 202, 409]


async def test_a_declined_payment_gives_its_ticket_back_and_the_gate_reopens(
    res: Resources, client: httpx.AsyncClient, orders_worker: Any, worker: Any
) -> None:
    (first, second, third), event_id = await _event(res, capacity=1, customers=3)
    await orders_worker.pause()
    declined = await post_order(client, first, event_id, card=PM_DECLINED)
    assert declined.status_code == 202
    # The one ticket is spoken for by an order the worker has not reached yet.
    refused = await post_order(client, second, event_id)
    assert refused.status_code == 409 and refused.json()["error"] == "sold_out"
    orders_worker.resume()
    order_id = uuid.UUID(declined.json()["id"])
    row = (await wait_decided(res.pool, [order_id]))[order_id]
    assert (row["status"], row["reason"]) == ("rejected", "payment_declined")
    # The ticket is back on sale: the push raises `available` and the gate accepts again.
    deadline = time.monotonic() + 5
    while await _available(res, event_id) != 1:
        assert time.monotonic() < deadline, "the gate's available count was not raised"
        await asyncio.sleep(0.02)
    assert await unreserved_tickets(res.redis, event_id=event_id) == 0
    again = await post_order(client, third, event_id)
    assert again.status_code == 202
    later = uuid.UUID(again.json()["id"])
    assert (await wait_decided(res.pool, [later]))[later]["status"] == "confirmed"
    await wait_idle(res.redis)
    assert await unreserved_tickets(res.redis, event_id=event_id) == 0


async def test_the_count_returns_to_zero_once_every_order_is_decided(
    res: Resources, client: httpx.AsyncClient, orders_worker: Any
) -> None:
    people, event_id = await _event(res, capacity=3, customers=3)
    cards = [PM_DECLINED, PM_OK, PM_OK]
    placed = [await post_order(client, c, event_id, card=card) for c, card in zip(people, cards, strict=True)]
    ids = [uuid.UUID(r.json()["id"]) for r in placed]
    rows = await wait_decided(res.pool, ids)
    assert sorted(r["status"] for r in rows.values()) == ["confirmed", "confirmed", "rejected"]
    await wait_idle(res.redis)
    assert await unreserved_tickets(res.redis, event_id=event_id) == 0
    assert await res.redis.exists(keys.orders_unreserved(event_id)) == 0


async def test_a_retried_decision_releases_its_tickets_once(
    res: Resources, client: httpx.AsyncClient
) -> None:
    (first, second), event_id = await _event(res, capacity=5, customers=2)
    order_id = uuid.UUID((await post_order(client, first, event_id)).json()["id"])
    assert await unreserved_tickets(res.redis, event_id=event_id) == 1
    desks = [OrderDesk(res), OrderDesk(res)]
    assert await asyncio.gather(*(d.decide_order(order_id=order_id) for d in desks)) == ["confirmed"] * 2
    assert await OrderDesk(res).decide_order(order_id=order_id, job_try=2) == "confirmed"
    assert await release_unreserved(res.redis, event_id=event_id, order_ids=[order_id]) == 0
    assert await unreserved_tickets(res.redis, event_id=event_id) == 0
    # Never below zero: the next order counts as one.
    assert (await post_order(client, second, event_id)).status_code == 202
    assert await unreserved_tickets(res.redis, event_id=event_id) == 1


async def test_reconcile_repairs_a_corrupted_count(res: Resources, client: httpx.AsyncClient) -> None:
    people, event_id = await _event(res, capacity=5, customers=4)
    placed = [await post_order(client, c, event_id) for c in people[:3]]
    ids = [uuid.UUID(r.json()["id"]) for r in placed]
    assert await unreserved_tickets(res.redis, event_id=event_id) == 3
    # A worker reserved one order and died before releasing it: it still counts.
    record = await res.redis.hgetall(keys.order(ids[0]))
    async with res.pool.acquire() as conn:
        await reserve_orders(conn, intents=[_intent(ids[0], record)], lock_timeout_ms=1000)
    # And the total itself went wrong: the gate now refuses what it should accept.
    await res.redis.hset(keys.orders_unreserved(event_id), "total", 40)
    refused = await post_order(client, people[3], event_id)
    assert refused.status_code == 409 and refused.json()["error"] == "sold_out"

    async with res.pool.acquire() as conn:
        report = await reconcile(conn, res.redis)
    assert report.unreserved_repaired == 1 and report.check.ok
    assert await unreserved_tickets(res.redis, event_id=event_id) == 2  # the two not reserved
    assert await _available(res, event_id) == 4
    assert (await post_order(client, people[3], event_id)).status_code == 202
    assert await unreserved_tickets(res.redis, event_id=event_id) == 3


async def test_reconcile_drops_orders_redis_no_longer_has_queued(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=2)
    gone = uuid.uuid4()
    await res.redis.hset(keys.orders_unreserved(event_id), mapping={str(gone): 1, "total": 1})
    async with res.pool.acquire() as conn:
        report = await reconcile(conn, res.redis)
    assert report.unreserved_repaired == 1
    assert await res.redis.exists(keys.orders_unreserved(event_id)) == 0

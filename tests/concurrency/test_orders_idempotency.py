"""Idempotency-Key on POST /api/orders under concurrency, with a control: the same race
with the gate's lookup and claim of the key split in two calls (`without_guard`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest

from core.queues import ORDERS_QUEUE
from core.resources import Resources
from reservations import keys
from tests.factories import make_customer, make_event
from tests.integration.reservations.orders.helpers import post_order, wait_decided, wait_idle

pytestmark = pytest.mark.concurrency


async def test_twenty_simultaneous_duplicates_place_one_order(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=5, max_per_customer=5)
    responses = await asyncio.gather(
        *(post_order(client, customer, event_id, key="same-key") for _ in range(20))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.content for r in responses}) == 1
    order_id = uuid.UUID(responses[0].json()["id"])
    rows = await wait_decided(res.pool, [order_id])
    assert rows[order_id]["status"] == "confirmed"
    await wait_idle(res.redis)
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1
        assert await conn.fetchval("SELECT count(*) FROM purchases") == 1
    # Later replays, sequential, still answer the same; a new body with the key is refused.
    for _ in range(3):
        again = await post_order(client, customer, event_id, key="same-key")
        assert again.status_code == 202 and again.content == responses[0].content
    reused = await post_order(client, customer, event_id, key="same-key", quantity=2)
    assert reused.status_code == 422 and reused.json()["error"] == "idempotency_key_reused"
    assert await res.redis.xlen(ORDERS_QUEUE) == 0
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1


async def test_many_customers_many_duplicates_each_place_one_order(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        customers = [await make_customer(conn) for _ in range(10)]
        event_id = await make_event(conn, capacity=20)
    calls = [post_order(client, c, event_id, key=f"k-{c}") for c in customers for _ in range(20)]
    responses = await asyncio.gather(*calls)
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 10
    assert await res.redis.xlen(ORDERS_QUEUE) == 10
    assert await res.redis.zcard(keys.orders_pending()) == 10


async def test_control_check_then_act_lets_duplicates_through(
    res: Resources, client: httpx.AsyncClient, without_guard: Callable[..., None]
) -> None:
    """Control: the same 20 duplicates through the real gate with the key's lookup and its
    claim in two script calls (the rest of place_order.lua unchanged): every duplicate
    finds the key unused, and one key places several orders, up to the customer's limit.
    The atomic claim is what makes the difference, and this harness can see it."""
    without_guard("atomic_idempotency_claim")
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=5, max_per_customer=5)
    responses = await asyncio.gather(
        *(post_order(client, customer, event_id, key="same-key") for _ in range(20))
    )
    placed = {r.json()["id"] for r in responses if r.status_code == 202}
    assert len(placed) > 1
    assert len({r.content for r in responses}) > 1
    assert await res.redis.xlen(ORDERS_QUEUE) == len(placed)

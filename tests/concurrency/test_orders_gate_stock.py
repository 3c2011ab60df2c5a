"""The order gate bounds accepted, unreserved orders by the available tickets: a flash
sale of 2,000 customers for 100 tickets accepts about 100 orders, not 2,000."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from core.queues import ORDERS_QUEUE
from core.resources import Resources
from reservations import keys
from reservations.inventory.stock import LIVE_PUSH_DELAY_S
from reservations.live import service as live
from reservations.orders.service import unreserved_tickets
from tests.factories import make_customers, make_event, stock_counts
from tests.integration.reservations.orders.helpers import post_order, wait_decided, wait_idle

pytestmark = pytest.mark.concurrency

CUSTOMERS = 2000
TICKETS = 100


async def _sale(res: Resources) -> tuple[list[uuid.UUID], uuid.UUID]:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, CUSTOMERS)
        event_id = await make_event(conn, capacity=TICKETS, price_cents=2500)
        await live.current_stock(conn, res.redis, event_id=event_id)  # as event creation does
    return customers, event_id


async def _check_sold(res: Resources, event_id: uuid.UUID, confirmed: set[uuid.UUID]) -> None:
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        sold = await conn.fetch("SELECT ticket_id, order_id FROM purchases WHERE event_id = $1", event_id)
    assert counts == {"AVAILABLE": 0, "IN_PROGRESS": 0, "BOOKED": TICKETS, "capacity": TICKETS}
    assert len({p["ticket_id"] for p in sold}) == len(sold) == TICKETS
    assert {p["order_id"] for p in sold} == confirmed


async def test_with_the_worker_stopped_exactly_the_stock_is_accepted(
    res: Resources, client: httpx.AsyncClient, orders_worker: Any
) -> None:
    customers, event_id = await _sale(res)
    await orders_worker.pause()
    keys_used = [uuid.uuid4().hex for _ in customers]
    responses = await asyncio.gather(
        *(post_order(client, c, event_id, key=k) for c, k in zip(customers, keys_used, strict=True))
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(202) == TICKETS
    refused = [r for r in responses if r.status_code != 202]
    assert len(refused) == CUSTOMERS - TICKETS
    assert {(r.status_code, r.json()["error"]) for r in refused} == {(409, "sold_out")}
    assert await res.redis.xlen(ORDERS_QUEUE) == TICKETS
    assert await unreserved_tickets(res.redis, event_id=event_id) == TICKETS
    # A refusal is stored under its key: the same request again gets the same answer.
    i = statuses.index(409)
    replay = await post_order(client, customers[i], event_id, key=keys_used[i])
    assert replay.status_code == 409 and replay.content == responses[i].content

    orders_worker.resume()
    ids = [uuid.UUID(r.json()["id"]) for r in responses if r.status_code == 202]
    rows = await wait_decided(res.pool, ids, timeout_s=60)
    assert {r["status"] for r in rows.values()} == {"confirmed"}
    await _check_sold(res, event_id, set(ids))
    await wait_idle(res.redis)
    assert await unreserved_tickets(res.redis, event_id=event_id) == 0
    assert await res.redis.exists(keys.orders_unreserved(event_id)) == 0


async def test_a_running_sale_accepts_the_stock_plus_a_staleness_margin(
    res: Resources, client: httpx.AsyncClient, orders_worker: Any, worker: Any
) -> None:
    """With the worker deciding meanwhile, `available` trails the reservations by up to
    one coalesced push: the orders reserved in that window may be replaced by new ones,
    which the worker then rejects `sold_out`. Every accepted order is still decided."""
    customers, event_id = await _sale(res)
    start = time.monotonic()
    responses = await asyncio.gather(*(post_order(client, c, event_id) for c in customers))
    accepted_in = time.monotonic() - start
    assert {r.status_code for r in responses} <= {202, 409}
    ids = [uuid.UUID(r.json()["id"]) for r in responses if r.status_code == 202]
    assert {r.json()["error"] for r in responses if r.status_code == 409} <= {"sold_out"}

    rows = await wait_decided(res.pool, ids, timeout_s=60)
    decided_in = time.monotonic() - start
    confirmed = {i for i, r in rows.items() if r["status"] == "confirmed"}
    rejected = [r["reason"] for r in rows.values() if r["status"] == "rejected"]
    assert len(confirmed) == TICKETS
    assert rejected == ["sold_out"] * (len(ids) - TICKETS)
    # The margin: what the worker decides within a push delay or two (it decides a few
    # hundred orders a second here), far from the 1,900 extra orders of an unbounded gate.
    assert len(ids) <= TICKETS + 300, len(ids)
    await _check_sold(res, event_id, confirmed)
    await wait_idle(res.redis)
    assert await unreserved_tickets(res.redis, event_id=event_id) == 0
    print(
        f"\n{len(ids)} of {CUSTOMERS} orders accepted in {accepted_in:.2f}s"
        f" (push delay {LIVE_PUSH_DELAY_S}s), all decided in {decided_in:.2f}s"
    )

"""A flash sale through the order pipeline: 2,000 customers, 100 tickets."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from core.resources import Resources
from tests.factories import make_customers, make_event, stock_counts
from tests.integration.reservations.orders.helpers import post_order, wait_decided, wait_idle

pytestmark = pytest.mark.concurrency

CUSTOMERS = 2000
TICKETS = 100


async def test_two_thousand_orders_for_a_hundred_tickets(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, CUSTOMERS)
        event_id = await make_event(conn, capacity=TICKETS, price_cents=2500)
    start = time.monotonic()
    responses = await asyncio.gather(*(post_order(client, c, event_id) for c in customers))
    accepted_in = time.monotonic() - start
    assert [r.status_code for r in responses] == [202] * CUSTOMERS
    ids = [uuid.UUID(r.json()["id"]) for r in responses]
    assert len(set(ids)) == CUSTOMERS

    rows = await wait_decided(res.pool, ids, timeout_s=60)
    decided_in = time.monotonic() - start
    confirmed = [i for i, r in rows.items() if r["status"] == "confirmed"]
    rejected = [r["reason"] for r in rows.values() if r["status"] == "rejected"]
    assert len(confirmed) == TICKETS
    assert rejected == ["sold_out"] * (CUSTOMERS - TICKETS)

    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        sold = await conn.fetch(
            "SELECT ticket_id, customer_id, order_id FROM purchases WHERE event_id = $1", event_id
        )
        holds = await conn.fetch("SELECT status, count(*) AS n FROM holds GROUP BY status")
    assert counts == {"AVAILABLE": 0, "IN_PROGRESS": 0, "BOOKED": TICKETS, "capacity": TICKETS}
    assert len(sold) == TICKETS
    assert len({p["ticket_id"] for p in sold}) == TICKETS  # nothing sold twice
    assert len({p["customer_id"] for p in sold}) == TICKETS  # one per customer
    assert {p["order_id"] for p in sold} == set(confirmed)
    assert {h["status"]: h["n"] for h in holds} == {"confirmed": TICKETS}

    charged = (await res.http.get("/v1/charges")).json()["charges"]
    mine = [c for c in charged if c["description"] in {f"order {i}" for i in ids}]
    assert sorted(c["description"] for c in mine) == sorted(f"order {i}" for i in confirmed)
    await wait_idle(res.redis)
    print(f"\n{CUSTOMERS} orders accepted in {accepted_in:.2f}s, all decided in {decided_in:.2f}s")

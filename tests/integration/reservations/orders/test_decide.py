"""The orders worker: reserve, charge once, settle; idempotent when run again."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import uuid
from typing import Any

import httpx
import msgspec
import pytest

from core.logs import JsonFormatter
from core.resources import Resources
from reservations import keys
from reservations.orders.decisions import RetryLater
from reservations.orders.desk import OrderDesk, _intent
from tests.factories import make_customer, make_customers, make_event, stock_counts
from tests.integration.reservations.orders.helpers import PM_DECLINED, auth, post_order, wait_decided


async def _charges(res: Resources, order_id: str) -> list[dict[str, Any]]:
    r = await res.http.get("/v1/charges", params={"description": f"order {order_id}"})
    assert r.status_code == 200
    charges: list[dict[str, Any]] = r.json()["charges"]
    return charges


async def test_an_order_is_confirmed_with_one_charge_and_its_purchase(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=3, price_cents=4500)
    placed = (await post_order(client, customer, event_id)).json()
    order_id = uuid.UUID(placed["id"])
    rows = await wait_decided(res.pool, [order_id])
    assert rows[order_id]["status"] == "confirmed" and rows[order_id]["reason"] is None
    got = (await client.get(f"/api/orders/{order_id}", headers=auth(customer))).json()
    assert got["status"] == "confirmed" and got["total_cents"] == 4500
    assert len(got["purchases"]) == 1 and got["purchases"][0]["price_cents"] == 4500
    charges = await _charges(res, placed["id"])
    assert [c["id"] for c in charges] == [rows[order_id]["payment_id"]]
    assert charges[0]["amount_cents"] == 4500 and charges[0]["status"] == "succeeded"
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        hold = await conn.fetchrow(
            "SELECT status, payment_id FROM holds WHERE id = $1", rows[order_id]["hold_id"]
        )
    assert counts["BOOKED"] == 1 and counts["IN_PROGRESS"] == 0 and counts["AVAILABLE"] == 2
    assert hold["status"] == "confirmed" and hold["payment_id"] == rows[order_id]["payment_id"]
    record = await res.redis.hgetall(keys.order(order_id))
    assert record[b"status"] == b"confirmed" and b"payment_method" not in record
    assert await res.redis.ttl(keys.order(order_id)) > 0
    assert await res.redis.zcard(keys.orders_pending()) == 0


async def test_a_declined_card_rejects_and_gives_everything_back(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=1)
    placed = (await post_order(client, customer, event_id, card=PM_DECLINED)).json()
    order_id = uuid.UUID(placed["id"])
    rows = await wait_decided(res.pool, [order_id])
    assert rows[order_id]["status"] == "rejected" and rows[order_id]["reason"] == "payment_declined"
    got = (await client.get(f"/api/orders/{order_id}", headers=auth(customer))).json()
    assert got["reason"] == "payment_declined" and "purchases" not in got
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        taken = await conn.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer)
    assert counts["AVAILABLE"] == 1 and taken == 0
    # The gate count went back too: the customer may order again, and this time it works.
    again = await post_order(client, customer, event_id)
    assert again.status_code == 202
    second = uuid.UUID(again.json()["id"])
    assert (await wait_decided(res.pool, [second]))[second]["status"] == "confirmed"


async def test_more_orders_than_tickets_reject_the_rest_sold_out(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, 8)
        event_id = await make_event(conn, capacity=3)
    placed = await asyncio.gather(*(post_order(client, c, event_id) for c in customers))
    ids = [uuid.UUID(r.json()["id"]) for r in placed]
    rows = await wait_decided(res.pool, ids)
    statuses = sorted((r["status"], r["reason"]) for r in rows.values())
    assert statuses == [("confirmed", None)] * 3 + [("rejected", "sold_out")] * 5
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == 3
        assert await conn.fetchval("SELECT count(DISTINCT ticket_id) FROM purchases") == 3


async def test_postgres_has_the_last_word_on_the_limit(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=5, max_per_customer=2)
        # Tickets already held elsewhere (a hold): Redis's gate does not know of them.
        await conn.execute(
            "INSERT INTO allowances (customer_id, event_id, taken) VALUES ($1, $2, 1)", customer, event_id
        )
    placed = (await post_order(client, customer, event_id, quantity=2)).json()
    order_id = uuid.UUID(placed["id"])
    rows = await wait_decided(res.pool, [order_id])
    assert rows[order_id]["status"] == "rejected" and rows[order_id]["reason"] == "limit_reached"
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["AVAILABLE"] == 5
        assert await conn.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer) == 1


async def test_quantity_two_on_a_seated_event_books_two_seats(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(
            conn,
            sections=[{"name": "A", "price_cents": 9000, "rows": 1, "seats_per_row": 3}],
            max_per_customer=2,
        )
    placed = (await post_order(client, customer, event_id, quantity=2)).json()
    order_id = uuid.UUID(placed["id"])
    assert (await wait_decided(res.pool, [order_id]))[order_id]["status"] == "confirmed"
    got = (await client.get(f"/api/orders/{order_id}", headers=auth(customer))).json()
    assert got["total_cents"] == 18000
    assert sorted((p["section"], p["row"]) for p in got["purchases"]) == [("A", "A"), ("A", "A")]
    assert len({p["number"] for p in got["purchases"]}) == 2


async def _accepted(
    res: Resources, client: httpx.AsyncClient, *, capacity: int = 2
) -> tuple[uuid.UUID, uuid.UUID]:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=capacity)
    placed = (await post_order(client, customer, event_id)).json()
    return uuid.UUID(placed["id"]), event_id


async def test_deciding_twice_at_once_takes_one_ticket_and_one_charge(
    res: Resources, client: httpx.AsyncClient
) -> None:
    order_id, event_id = await _accepted(res, client)
    desks = [OrderDesk(res), OrderDesk(res)]  # two worker processes
    results = await asyncio.gather(*(d.decide_order(order_id=order_id) for d in desks))
    assert results == ["confirmed", "confirmed"]
    again = await OrderDesk(res).decide_order(order_id=order_id, job_try=2)
    assert again == "confirmed"
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == 1
        assert await conn.fetchval("SELECT count(*) FROM holds") == 1
    assert len(await _charges(res, str(order_id))) == 1


async def test_a_job_that_died_after_reserving_resumes_with_the_same_hold(
    res: Resources, client: httpx.AsyncClient
) -> None:
    order_id, event_id = await _accepted(res, client)
    desk = OrderDesk(res)
    record = await res.redis.hgetall(keys.order(order_id))
    first = await desk.reserve.submit(_intent(order_id, record))  # the first step, alone
    again = await desk.decide_order(order_id=order_id, job_try=2)
    assert again == "confirmed"
    async with res.pool.acquire() as conn:
        hold_id = await conn.fetchval("SELECT hold_id FROM orders WHERE id = $1", order_id)
        assert (await stock_counts(conn, event_id))["BOOKED"] == 1
    assert hold_id == first.hold_id  # type: ignore[union-attr]


async def test_a_busy_database_asks_for_a_retry(res: Resources, client: httpx.AsyncClient) -> None:
    order_id, _ = await _accepted(res, client)
    quick = msgspec.structs.replace(res.settings, lock_timeout_ms=200)
    desk = OrderDesk(dataclasses.replace(res, settings=quick))
    async with res.pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(RetryLater):
            await asyncio.wait_for(desk.decide_order(order_id=order_id), timeout=10)
    assert await desk.decide_order(order_id=order_id, job_try=2) == "confirmed"


async def test_the_request_id_follows_the_order_into_the_worker_logs(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("crowdpass.orders")
    logger.addHandler(handler)
    try:
        async with res.pool.acquire() as conn:
            customer = await make_customer(conn)
            event_id = await make_event(conn, capacity=1)
        r = await post_order(client, customer, event_id, headers={"X-Request-ID": "req-orders-42"})
        assert r.headers["x-request-id"] == "req-orders-42"
        order_id = uuid.UUID(r.json()["id"])
        await wait_decided(res.pool, [order_id])
        for _ in range(50):
            if str(order_id) in stream.getvalue():
                break
            await asyncio.sleep(0.02)
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [e for e in lines if e.get("order_id") == str(order_id)]
    assert mine and all(e["request_id"] == "req-orders-42" for e in mine)
    assert any(e["msg"] == "order confirmed" for e in mine)

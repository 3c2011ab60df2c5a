"""The reconcile cron: Redis rebuilt from PostgreSQL, invariants checked and recorded,
stranded orders enqueued again."""

from __future__ import annotations

import uuid

import httpx

from core.queues import ORDERS_QUEUE
from core.resources import Resources
from reservations import keys
from reservations.orders.reconcile import check_invariants, reconcile, requeue_stale_orders
from tests.factories import make_customer, make_event
from tests.integration.reservations.orders.helpers import post_order, wait_decided


async def test_rebuilds_the_gate_cache_and_sold_out_flags(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        open_event = await make_event(conn, capacity=2)
        full_event = await make_event(conn, capacity=1, max_per_customer=4)
        await conn.execute(
            "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE event_id = $1", full_event, customer
        )
        await conn.execute(
            "INSERT INTO purchases (event_id, customer_id, ticket_id, price_cents)"
            " SELECT event_id, customer_id, id, price_cents FROM tickets WHERE event_id = $1",
            full_event,
        )
    await res.redis.set(keys.sold_out(open_event), b"1")  # wrong: it has tickets
    async with res.pool.acquire() as conn:
        report = await reconcile(conn, res.redis)
    assert report.events == 2 and report.sold_out == 1
    assert await res.redis.exists(keys.sold_out(full_event)) == 1
    assert await res.redis.exists(keys.sold_out(open_event)) == 0
    assert (await res.redis.hgetall(keys.event_meta(full_event)))[b"max_per_customer"] == b"4"
    assert report.check.ok and report.check.violations == []
    row = await res.pool.fetchrow(
        "SELECT ok, events, violations FROM invariant_checks ORDER BY id DESC LIMIT 1"
    )
    assert row["ok"] is True and row["events"] == 2


async def test_the_check_finds_a_broken_invariant(res: Resources) -> None:
    """Control: the check is able to fail. A purchase of a ticket that was never booked
    (what a lost update would leave behind) is reported, and recorded as not ok."""
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=3)
        ok = await check_invariants(conn)
        assert ok.ok
        await conn.execute(
            "INSERT INTO purchases (event_id, customer_id, ticket_id, price_cents)"
            " SELECT event_id, $2, id, price_cents FROM tickets WHERE event_id = $1 LIMIT 1",
            event_id,
            customer,
        )
        broken = await check_invariants(conn)
    assert not broken.ok
    assert {v["check"] for v in broken.violations} == {"purchases_match_sold", "purchase_has_booked_ticket"}
    last = await res.pool.fetchrow("SELECT ok FROM invariant_checks ORDER BY id DESC LIMIT 1")
    assert last["ok"] is False


async def test_an_order_whose_job_was_lost_is_enqueued_again_and_decided(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=1)
    # Lose the entry before any worker decides it (what a worker giving up after its tries,
    # or Redis losing the entry, does).
    await orders_worker.pause()  # type: ignore[attr-defined]
    placed = (await post_order(client, customer, event_id)).json()
    entry = await res.redis.hget(keys.order(placed["id"]), "entry")
    assert await res.redis.xdel(ORDERS_QUEUE, entry) == 1
    orders_worker.resume()  # type: ignore[attr-defined]
    async with res.pool.acquire() as conn:
        assert await requeue_stale_orders(conn, res.redis, older_than_s=60) == 0  # not stale yet
        assert await requeue_stale_orders(conn, res.redis, older_than_s=0) == 1
        assert await requeue_stale_orders(conn, res.redis, older_than_s=0) == 0  # its new job is alive
    order_id = uuid.UUID(placed["id"])
    assert (await wait_decided(res.pool, [order_id]))[order_id]["status"] == "confirmed"


async def test_an_order_redis_forgot_is_rejected_payment_unavailable(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=1)
        order_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO orders (id, event_id, customer_id, quantity, accepted_at)"
            " VALUES ($1, $2, $3, 1, now() - interval '5 minutes')",
            order_id,
            event_id,
            customer,
        )
        assert await requeue_stale_orders(conn, res.redis, older_than_s=60) == 1
    row = (await wait_decided(res.pool, [order_id]))[order_id]
    assert (row["status"], row["reason"]) == ("rejected", "payment_unavailable")

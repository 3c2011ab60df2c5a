"""Orders that name a ticket type (docs/ticket-types.md): the gate knows the types, their
windows and stock; the worker reserves tickets of the order's type, with its limit."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from core.resources import Resources
from reservations import keys
from reservations.orders.reconcile import check_invariants, reconcile
from tests.factories import make_customers
from tests.integration.reservations.orders.helpers import PM_DECLINED, PM_OK, auth, wait_decided, wait_idle

LATER = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20)).isoformat()


async def typed_event(client: httpx.AsyncClient, res: Resources, *types: dict[str, Any], **extra: Any) -> str:
    body = {"name": "Festival", "starts_at": LATER, "sections": list(types)} | extra
    r = await client.post(
        "/api/events", json=body, headers={"Authorization": f"Bearer {res.settings.admin_token}"}
    )
    assert r.status_code == 201, r.text
    event_id: str = r.json()["id"]
    return event_id


async def order(
    client: httpx.AsyncClient, customer: uuid.UUID, event_id: str, ticket_type: str | None, **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"event_id": event_id, "payment_method": PM_OK, **extra}
    if ticket_type is not None:
        body["ticket_type"] = ticket_type
    return await client.post(
        "/api/orders", json=body, headers=auth(customer) | {"Idempotency-Key": uuid.uuid4().hex}
    )


PISTA = {"name": "Pista", "price_cents": 10000, "capacity": 5}
VIP = {"name": "VIP", "price_cents": 30000, "capacity": 2}


async def test_an_unknown_type_is_422_naming_the_field_and_accepts_nothing(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id = await typed_event(client, res, PISTA, VIP)
    (me,) = await make_customers_(res, 1)
    r = await order(client, me, event_id, "Camarote")
    assert r.status_code == 422
    assert r.json() == {
        "error": "unknown_ticket_type",
        "detail": "This event has no ticket type of this name.",
        "field": "ticket_type",
    }
    assert await res.redis.xlen("ticket_orders") == 0
    # The same refusal again under the same key (replayed), and through the Litestar route.
    r2 = await client.post(
        "/api/orders?x=1",
        json={"event_id": event_id, "payment_method": PM_OK, "ticket_type": "Camarote"},
        headers=auth(me) | {"Idempotency-Key": "k1"},
    )
    assert (r2.status_code, r2.content) == (422, r.content)


async def make_customers_(res: Resources, n: int) -> list[uuid.UUID]:
    async with res.pool.acquire() as conn:
        return await make_customers(conn, n)


async def test_a_type_outside_its_window_is_not_on_sale(res: Resources, client: httpx.AsyncClient) -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    event_id = await typed_event(client, res, PISTA, VIP | {"sales_open_at": soon})
    (me,) = await make_customers_(res, 1)
    r = await order(client, me, event_id, "VIP")
    assert r.status_code == 409 and r.json()["error"] == "not_on_sale"
    assert (await order(client, me, event_id, "Pista")).status_code == 202


async def test_vip_orders_are_bounded_by_vip_stock_and_get_vip_tickets(
    res: Resources, client: httpx.AsyncClient, orders_worker: Any, worker: Any
) -> None:
    """VIP has 2 tickets: the third VIP order is refused at the gate although Pista has 5."""
    event_id = await typed_event(client, res, PISTA, VIP, max_per_customer=4)
    people = await make_customers_(res, 4)
    await orders_worker.pause()
    answers = [await order(client, c, event_id, "VIP") for c in people[:3]]
    assert [a.status_code for a in answers] == [202, 202, 409]
    assert answers[2].json()["error"] == "sold_out"
    pista = await order(client, people[3], event_id, "Pista", quantity=3)
    assert pista.status_code == 202
    orders_worker.resume()
    ids = [uuid.UUID(a.json()["id"]) for a in (*answers[:2], pista)]
    decided = await wait_decided(res.pool, ids)
    assert {d["status"] for d in decided.values()} == {"confirmed"}
    sections = await res.pool.fetch(
        "SELECT o.ticket_type, t.section FROM purchases p JOIN tickets t ON t.id = p.ticket_id"
        " JOIN orders o ON o.id = p.order_id WHERE p.event_id = $1",
        uuid.UUID(event_id),
    )
    assert sorted((r["ticket_type"], r["section"]) for r in sections) == [
        ("Pista", "Pista"),
        ("Pista", "Pista"),
        ("Pista", "Pista"),
        ("VIP", "VIP"),
        ("VIP", "VIP"),
    ]
    got = await client.get(f"/api/orders/{ids[0]}", headers=auth(people[0]))
    assert got.json()["ticket_type"] == "VIP"
    await wait_idle(res.redis)
    assert await res.redis.hgetall(keys.orders_unreserved_types(event_id)) == {}
    async with res.pool.acquire() as conn:
        assert (await check_invariants(conn)).ok


async def test_a_type_limit_rejects_the_order_over_it_and_a_decline_gives_it_back(
    res: Resources, client: httpx.AsyncClient, orders_worker: Any, worker: Any
) -> None:
    event_id = await typed_event(
        client, res, PISTA, VIP | {"capacity": 5, "max_per_customer": 1}, max_per_customer=4
    )
    (me,) = await make_customers_(res, 1)
    declined = await order(client, me, event_id, "VIP", payment_method=PM_DECLINED)
    first = await wait_decided(res.pool, [uuid.UUID(declined.json()["id"])])
    assert [r["reason"] for r in first.values()] == ["payment_declined"]
    assert await res.pool.fetchval("SELECT taken FROM type_allowances WHERE customer_id = $1", me) == 0
    ok = await order(client, me, event_id, "VIP")
    over = await order(client, me, event_id, "VIP")
    decided = await wait_decided(res.pool, [uuid.UUID(ok.json()["id"]), uuid.UUID(over.json()["id"])])
    assert decided[uuid.UUID(ok.json()["id"])]["status"] == "confirmed"
    assert decided[uuid.UUID(over.json()["id"])]["reason"] == "limit_reached"
    counts = await res.pool.fetchrow(
        "SELECT (SELECT taken FROM allowances WHERE customer_id = $1) AS event,"
        " (SELECT taken FROM type_allowances WHERE customer_id = $1) AS vip",
        me,
    )
    assert (counts["event"], counts["vip"]) == (1, 1)
    await wait_idle(res.redis)
    async with res.pool.acquire() as conn:
        assert (await check_invariants(conn)).ok


async def test_reconcile_rebuilds_the_type_counts_of_unreserved_orders(
    res: Resources, client: httpx.AsyncClient, orders_worker: Any
) -> None:
    event_id = await typed_event(client, res, PISTA, VIP, max_per_customer=4)
    people = await make_customers_(res, 2)
    await orders_worker.pause()
    a = await order(client, people[0], event_id, "VIP")
    await order(client, people[1], event_id, "Pista", quantity=2)
    table = keys.orders_unreserved_types(event_id)
    assert await res.redis.hget(table, "t:VIP") == b"1"
    assert await res.redis.hget(table, "t:Pista") == b"2"
    await res.redis.hset(table, "t:VIP", 7)  # drifted
    await res.redis.hdel(keys.orders_unreserved(event_id), a.json()["id"])  # the VIP order is gone
    async with res.pool.acquire() as conn:
        await reconcile(conn, res.redis)
    assert await res.redis.hget(table, "t:VIP") is None
    assert await res.redis.hget(table, "t:Pista") == b"2"
    orders_worker.resume()


async def test_reconcile_rebuilds_the_gate_s_stock_of_each_type(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id = await typed_event(client, res, PISTA, VIP)
    assert await res.redis.get(keys.available_type(event_id, "VIP")) == b"2"  # written at creation
    await res.redis.delete(keys.available_type(event_id, "VIP"))
    await res.redis.set(keys.available_type(event_id, "Pista"), 0)  # wrong
    async with res.pool.acquire() as conn:
        await reconcile(conn, res.redis)
    assert await res.redis.get(keys.available_type(event_id, "VIP")) == b"2"
    assert await res.redis.get(keys.available_type(event_id, "Pista")) == b"5"

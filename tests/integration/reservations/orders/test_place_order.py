"""POST /api/orders: the accept gate, from Redis alone."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import uuid

import httpx
import msgspec
import pytest
from arq.connections import ArqRedis

from core.errors import Busy
from core.queues import ORDERS_QUEUE
from core.resources import Resources
from reservations import keys
from reservations.orders.schemas import OrderCreate
from reservations.orders.service import place_order, refresh_event_meta
from tests.factories import make_customer, make_event
from tests.integration.reservations.orders.helpers import auth, create_event, order_body, post_order


async def _setup(res: Resources, **event: object) -> tuple[uuid.UUID, uuid.UUID]:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, **event)  # type: ignore[arg-type]
    return customer, event_id


async def test_accepts_with_202_queued_body_and_location(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res, capacity=5)
    r = await post_order(client, customer, event_id, quantity=1)
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"id", "status", "event_id", "quantity"}
    assert body["status"] == "queued" and body["event_id"] == str(event_id) and body["quantity"] == 1
    assert r.headers["location"] == f"/api/orders/{body['id']}"
    # Recorded and enqueued in Redis; nothing written to PostgreSQL by the request.
    record = await res.redis.hgetall(keys.order(body["id"]))
    entry = await res.redis.xrange(ORDERS_QUEUE, record[b"entry"], record[b"entry"])
    assert entry[0][1] == {b"order_id": body["id"].encode(), b"request_id": entry[0][1][b"request_id"]}
    assert record[b"seq"] == b"1"
    assert record[b"status"] == b"queued" and record[b"customer_id"] == str(customer).encode()
    assert await res.pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_same_key_same_body_gets_the_same_answer_and_one_order(
    res: Resources, client: httpx.AsyncClient
) -> None:
    customer, event_id = await _setup(res)
    first = await post_order(client, customer, event_id, key="k-1")
    again = await post_order(client, customer, event_id, key="k-1")
    assert first.status_code == again.status_code == 202
    assert first.content == again.content
    assert first.headers["location"] == again.headers["location"]
    assert await res.redis.xlen(ORDERS_QUEUE) == 1


async def test_same_body_written_differently_is_the_same_request(
    res: Resources, client: httpx.AsyncClient
) -> None:
    customer, event_id = await _setup(res)
    h = auth(customer) | {"Idempotency-Key": "k-2", "Content-Type": "application/json"}
    a = await client.post("/api/orders", json=order_body(event_id), headers=h)
    raw = f'{{ "quantity": 1, "payment_method": "pm_card_visa", "event_id": "{event_id}" }}'
    b = await client.post("/api/orders", content=raw, headers=h)
    assert a.status_code == b.status_code == 202
    assert a.json() == b.json()


async def test_same_key_other_body_is_422(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res, max_per_customer=3)
    assert (await post_order(client, customer, event_id, key="k-3")).status_code == 202
    r = await post_order(client, customer, event_id, key="k-3", quantity=2)
    assert r.status_code == 422
    assert r.json()["error"] == "idempotency_key_reused"
    assert await res.redis.xlen(ORDERS_QUEUE) == 1


async def test_keys_belong_to_one_customer(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res)
    async with res.pool.acquire() as conn:
        other = await make_customer(conn)
    a = await post_order(client, customer, event_id, key="shared")
    b = await post_order(client, other, event_id, key="shared")
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


async def test_bad_input_is_400_naming_the_field(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res)
    h = auth(customer)
    no_key = await client.post("/api/orders", json=order_body(event_id), headers=h)
    assert no_key.status_code == 400
    assert no_key.json()["error"] == "idempotency_key_required"
    assert no_key.json()["field"] == "Idempotency-Key"
    hk = h | {"Idempotency-Key": "k-bad", "Content-Type": "application/json"}
    malformed = await client.post("/api/orders", content=b'{"event_id": ', headers=hk)
    assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_input"
    cases = {
        "event_id": {"payment_method": "pm_card_visa"},
        "payment_method": {"event_id": str(event_id), "payment_method": "4242424242424242"},
        "card_number": {"event_id": str(event_id), "card_number": "4242424242424242"},
        "quantity": {"event_id": str(event_id), "payment_method": "pm_card_visa", "quantity": 0},
    }
    for field, body in cases.items():
        r = await client.post("/api/orders", json=body, headers=hk)
        assert r.status_code == 400, (field, r.text)
        assert r.json()["field"] == field, r.json()
    string_quantity = order_body(event_id) | {"quantity": "1"}
    assert (await client.post("/api/orders", json=string_quantity, headers=hk)).status_code == 400
    extra = order_body(event_id) | {"price": 1}
    assert (await client.post("/api/orders", json=extra, headers=hk)).status_code == 400
    bad_key = await client.post(
        "/api/orders", json=order_body(event_id), headers=h | {"Idempotency-Key": "a b"}
    )
    assert bad_key.status_code == 400
    assert await res.redis.xlen(ORDERS_QUEUE) == 0


async def test_unknown_event_is_404_at_once_and_cached_as_missing(
    res: Resources, client: httpx.AsyncClient
) -> None:
    customer, _ = await _setup(res)
    unknown = uuid.uuid4()
    r = await post_order(client, customer, unknown)
    assert r.status_code == 404 and r.json()["error"] == "event_not_found"
    assert await res.redis.hget(keys.event_meta(unknown), "missing") == b"1"
    assert 0 < await res.redis.ttl(keys.event_meta(unknown)) <= 30
    assert (await post_order(client, customer, unknown)).status_code == 404


async def test_tokens(res: Resources, client: httpx.AsyncClient) -> None:
    _, event_id = await _setup(res)
    anonymous = await client.post("/api/orders", json=order_body(event_id), headers={"Idempotency-Key": "x"})
    assert anonymous.status_code == 401
    admin = {"Authorization": f"Bearer {res.settings.admin_token}", "Idempotency-Key": "x"}
    assert (await client.post("/api/orders", json=order_body(event_id), headers=admin)).status_code == 403


async def test_gate_refuses_a_second_order_over_the_limit_and_replays_the_refusal(
    res: Resources, client: httpx.AsyncClient
) -> None:
    customer, event_id = await _setup(res, max_per_customer=1)
    assert (await post_order(client, customer, event_id)).status_code == 202
    second = await post_order(client, customer, event_id, key="k-limit")
    assert second.status_code == 409 and second.json()["error"] == "limit_reached"
    replay = await post_order(client, customer, event_id, key="k-limit")
    assert replay.status_code == 409 and replay.content == second.content
    too_many = await post_order(client, customer, event_id, quantity=2)
    assert too_many.status_code == 409
    assert await res.redis.xlen(ORDERS_QUEUE) == 1


async def test_gate_refuses_when_sold_out_flag_is_set(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res)
    await res.redis.set(keys.sold_out(event_id), b"1")
    r = await post_order(client, customer, event_id)
    assert r.status_code == 409 and r.json()["error"] == "sold_out"
    assert await res.redis.xlen(ORDERS_QUEUE) == 0


async def test_gate_refuses_waiting_room_and_scheduled_events(
    res: Resources, client: httpx.AsyncClient
) -> None:
    customer, wr_event = await _setup(res, waiting_room=True)
    r = await post_order(client, customer, wr_event)
    assert r.status_code == 403 and r.json()["error"] == "admission_required"
    async with res.pool.acquire() as conn:
        later = await make_event(conn, sales_open_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        closed = await make_event(conn)
        await conn.execute("UPDATE events SET closed = true WHERE id = $1", closed)
    for event_id in (later, closed):
        r = await post_order(client, customer, event_id)
        assert r.status_code == 409 and r.json()["error"] == "not_on_sale", r.text


async def test_get_order_while_queued_answers_from_redis(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res)
    placed = (await post_order(client, customer, event_id)).json()
    r = await client.get(f"/api/orders/{placed['id']}", headers=auth(customer))
    assert r.status_code == 200
    got = r.json()
    assert got["id"] == placed["id"] and got["status"] == "queued" and got["quantity"] == 1
    assert "reason" not in got and "purchases" not in got
    async with res.pool.acquire() as conn:
        stranger = await make_customer(conn)
    assert (await client.get(f"/api/orders/{placed['id']}", headers=auth(stranger))).status_code == 403
    admin = {"Authorization": f"Bearer {res.settings.admin_token}"}
    assert (await client.get(f"/api/orders/{placed['id']}", headers=admin)).status_code == 200
    missing = await client.get(f"/api/orders/{uuid.uuid4()}", headers=auth(customer))
    assert missing.status_code == 404 and missing.json()["error"] == "order_not_found"


async def test_event_creation_fills_the_gate_cache(res: Resources) -> None:
    _, event_id = await _setup(res)
    async with res.pool.acquire() as conn:
        assert await refresh_event_meta(conn, res.redis, event_id=event_id)
    meta = await res.redis.hgetall(keys.event_meta(event_id))
    assert meta[b"max_per_customer"] == b"1" and meta[b"waiting_room"] == b"0"


async def test_uncached_event_with_postgres_stuck_is_503_busy(
    res: Resources, client: httpx.AsyncClient
) -> None:
    customer, event_id = await _setup(res)
    async with res.pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        start = time.monotonic()
        r = await post_order(client, customer, event_id)
        elapsed = time.monotonic() - start
    assert r.status_code == 503 and r.json()["error"] == "busy"
    assert r.headers["retry-after"] == "1"
    assert elapsed < 2.0
    assert (await post_order(client, customer, event_id)).status_code == 202


async def test_accept_path_does_not_touch_postgres_once_cached(
    res: Resources, client: httpx.AsyncClient
) -> None:
    customer, event_id = await _setup(res, capacity=3)
    async with res.pool.acquire() as conn:
        await refresh_event_meta(conn, res.redis, event_id=event_id)
    async with res.pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE events, customers, orders, tickets IN ACCESS EXCLUSIVE MODE")
        r = await asyncio.wait_for(post_order(client, customer, event_id), timeout=1.0)
    assert r.status_code == 202
    assert msgspec.json.decode(r.content)["status"] == "queued"


async def test_redis_down_is_503_busy_and_nothing_accepted(res: Resources) -> None:
    customer, event_id = await _setup(res)
    dead = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        with pytest.raises(Busy):
            await place_order(
                dataclasses.replace(res, redis=dead),
                customer_id=customer,
                data=OrderCreate(event_id=event_id, payment_method="pm_card_visa"),
                idempotency_key="k-down",
                request_id=None,
                client_ip="127.0.0.1",
            )
    finally:
        await dead.aclose()
    assert await res.redis.xlen(ORDERS_QUEUE) == 0


async def test_an_event_created_through_the_api_is_in_the_gate_cache(
    res: Resources, client: httpx.AsyncClient
) -> None:
    created = await create_event(client, res.settings.admin_token, capacity=10, max_per_customer=2)
    assert created.status_code == 201, created.text
    meta = await res.redis.hgetall(keys.event_meta(created.json()["id"]))
    assert meta[b"max_per_customer"] == b"2" and meta[b"closed"] == b"0"

"""Order Idempotency-Keys: a field per key in small per-day hashes, found across midnight."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from core.queues import ORDERS_QUEUE
from core.resources import Resources
from reservations import keys
from reservations.orders import service as orders
from reservations.orders.schemas import OrderCreate
from reservations.orders.service import idempotency_slot, place_order
from tests.factories import make_customer, make_event
from tests.integration.reservations.orders.helpers import PM_OK, post_order

DAY = 86400


async def _setup(res: Resources) -> tuple[uuid.UUID, uuid.UUID]:
    async with res.pool.acquire() as conn:
        return await make_customer(conn), await make_event(conn, capacity=5)


async def _move(res: Resources, customer: uuid.UUID, key: str, *, days: int) -> None:
    """Make a key look first used `days` days from today (negative: in the past)."""
    now = time.time()
    today = idempotency_slot(customer, key, now=now).hashes[0]
    then = idempotency_slot(customer, key, now=now + days * DAY).hashes[0]
    await res.redis.rename(today, then)


@pytest.mark.parametrize("days", [-1, 1])
async def test_a_key_first_used_yesterday_or_by_a_clock_ahead_still_answers(
    res: Resources, client: httpx.AsyncClient, days: int
) -> None:
    customer, event_id = await _setup(res)
    first = await post_order(client, customer, event_id, key="k-midnight")
    assert first.status_code == 202
    await _move(res, customer, "k-midnight", days=days)
    again = await post_order(client, customer, event_id, key="k-midnight")
    assert again.status_code == 202
    assert again.content == first.content and again.headers["location"] == first.headers["location"]
    assert await res.redis.xlen(ORDERS_QUEUE) == 1


async def test_a_key_two_days_old_is_forgotten(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res)
    first = await post_order(client, customer, event_id, key="k-old", quantity=1)
    await _move(res, customer, "k-old", days=-2)
    # Forgotten: the same key and body are a new request, not a replay of the first.
    again = await post_order(client, customer, event_id, key="k-old", quantity=1)
    assert first.status_code == 202
    assert again.content != first.content


async def test_each_days_hashes_expire_within_three_days(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res)
    await post_order(client, customer, event_id, key="k-ttl")
    today = idempotency_slot(customer, "k-ttl", now=time.time()).hashes[0]
    assert 3 * DAY - 5 <= await res.redis.ttl(today) <= 3 * DAY


async def test_a_refused_key_costs_tens_of_bytes(
    res: Resources, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few shards, so 2,000 keys fill hashes the way a million fill 65,536 of them.
    monkeypatch.setattr(keys, "ORDER_KEY_SHARDS", 16)
    _, event_id = await _setup(res)
    await res.redis.set(keys.sold_out(event_id), b"1")
    data = OrderCreate(event_id=event_id, payment_method=PM_OK)
    for i in range(2_000):
        placed = await place_order(
            res,
            customer_id=uuid.uuid4(),
            data=data,
            idempotency_key=f"attempt-{i}",
            request_id=None,
            client_ip="127.0.0.1",
        )
        assert placed.refusal is not None and placed.refusal.status_code == 409
    hashes = [k async for k in res.redis.scan_iter(match="cp:idem:order:*")]
    assert len(hashes) == 16
    total = 0
    for name in hashes:
        # The compact encoding: `listpack` since Redis 7, `ziplist` on 6.2 (never `hashtable`).
        assert await res.redis.object("encoding", name) in (b"listpack", b"ziplist")
        total += await res.redis.memory_usage(name)
    assert total / 2_000 < 64, f"{total / 2_000:.0f} bytes per key"


async def test_an_accepted_answer_fits_a_listpack_value(res: Resources, client: httpx.AsyncClient) -> None:
    customer, event_id = await _setup(res)
    r = await post_order(client, customer, event_id, key="k-size")
    slot = idempotency_slot(customer, "k-size", now=time.time())
    stored = await res.redis.hget(slot.hashes[0], slot.field)
    assert stored is not None and stored.endswith(r.json()["id"].encode())
    assert len(stored) <= 64  # Redis's hash-max-listpack-value
    assert len(orders.fingerprint(OrderCreate(event_id=event_id, payment_method=PM_OK))) == 8

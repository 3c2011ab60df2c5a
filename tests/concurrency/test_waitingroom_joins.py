"""Joins racing each other: one place each, positions exactly 1..N, one place per customer."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from core.resources import Resources
from tests.factories import make_customers, make_event
from tests.integration.waitingroom.support import admin, auth
from waitingroom import keys

pytestmark = pytest.mark.concurrency

N = 1000
IPS = [f"198.51.100.{i}" for i in range(1, 5)]  # 250 joins each, under the per-IP limit


async def _clients(res: Resources) -> tuple[object, list[httpx.AsyncClient]]:
    from app import create_app

    app = create_app(resources=res)
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 5000)), base_url="http://t")
        for ip in IPS
    ]
    return app, clients


async def test_a_thousand_concurrent_joins_get_positions_1_to_1000(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=50)
        ids = await make_customers(conn, N)
    app, clients = await _clients(res)
    async with app.lifespan():  # type: ignore[attr-defined]
        await clients[0].patch(
            f"/api/events/{event_id}/waiting-room", json={"paused": True}, headers=admin(res)
        )
        headers = [auth(c) for c in ids]
        answers = await asyncio.gather(
            *(
                clients[i % len(clients)].post(f"/api/events/{event_id}/queue", headers=headers[i])
                for i in range(N)
            )
        )
        for c in clients:
            await c.aclose()

    assert [a.status_code for a in answers] == [200] * N
    positions = [a.json()["position"] for a in answers]
    assert sorted(positions) == list(range(1, N + 1))
    # Each answer is the customer's real place: nobody was placed twice or moved.
    ranks = await asyncio.gather(*(res.redis.zrank(keys.queue(event_id), str(c)) for c in ids))
    assert [r + 1 for r in ranks] == positions
    assert await res.redis.zcard(keys.queue(event_id)) == N


async def test_the_same_customer_twenty_times_at_once_gets_one_place(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=50)
        ids = await make_customers(conn, 6)
    await client.patch(f"/api/events/{event_id}/waiting-room", json={"paused": True}, headers=admin(res))
    for c in ids[:5]:
        await client.post(f"/api/events/{event_id}/queue", headers=auth(c))
    headers = auth(ids[5])

    answers = await asyncio.gather(
        *(client.post(f"/api/events/{event_id}/queue", headers=headers) for _ in range(20))
    )

    assert [a.status_code for a in answers] == [200] * 20
    assert {a.json()["position"] for a in answers} == {6}
    assert await res.redis.zcard(keys.queue(event_id)) == 6
    assert int(await res.redis.get(keys.sequence(event_id))) == 6


async def test_control_a_read_then_write_join_gives_repeated_positions(res: Resources) -> None:
    """Control: the same race with the place computed outside one atomic step is caught
    by the same assertion, so the test above would see a broken join."""
    queue = keys.queue(uuid.uuid4())

    async def naive_join(customer: str) -> int:
        position = int(await res.redis.zcard(queue)) + 1
        await res.redis.zadd(queue, {customer: position})
        return position

    positions = await asyncio.gather(*(naive_join(str(uuid.uuid4())) for _ in range(N)))

    assert sorted(positions) != list(range(1, N + 1))
    assert max(Counter(positions).values()) > 1

"""Joins racing each other: one place each, positions exactly 1..N, one place per customer."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable

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


async def a_thousand_concurrent_joins(
    res: Resources,
) -> tuple[uuid.UUID, list[uuid.UUID], list[httpx.Response]]:
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
    return event_id, ids, list(answers)


async def test_a_thousand_concurrent_joins_get_positions_1_to_1000(res: Resources) -> None:
    event_id, ids, answers = await a_thousand_concurrent_joins(res)

    assert [a.status_code for a in answers] == [200] * N
    positions = [a.json()["position"] for a in answers]
    assert sorted(positions) == list(range(1, N + 1))
    # Each answer is the customer's real place: nobody was placed twice or moved.
    ranks = await asyncio.gather(*(res.redis.zrank(keys.queue(event_id), str(c)) for c in ids))
    assert [r + 1 for r in ranks] == positions
    assert await res.redis.zcard(keys.queue(event_id)) == N


async def the_same_customer_twenty_times(
    res: Resources, client: httpx.AsyncClient
) -> tuple[uuid.UUID, list[httpx.Response]]:
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
    return event_id, list(answers)


async def test_the_same_customer_twenty_times_at_once_gets_one_place(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, answers = await the_same_customer_twenty_times(res, client)

    assert [a.status_code for a in answers] == [200] * 20
    assert {a.json()["position"] for a in answers} == {6}
    assert await res.redis.zcard(keys.queue(event_id)) == 6
    assert int(await res.redis.get(keys.sequence(event_id))) == 6


async def test_control_a_split_join_gives_one_customer_many_arrival_numbers(
    res: Resources, client: httpx.AsyncClient, without_guard: Callable[..., None]
) -> None:
    """Control: the same customer's 20 joins through the real route, join_queue.lua run as
    two calls: each finds no place and takes a number, so the customer is placed (and
    moved) several times."""
    without_guard("atomic_join")
    event_id, answers = await the_same_customer_twenty_times(res, client)

    assert [a.status_code for a in answers] == [200] * 20
    assert await res.redis.zcard(keys.queue(event_id)) == 6
    assert int(await res.redis.get(keys.sequence(event_id))) > 6


async def test_control_a_read_then_write_join_gives_repeated_positions(
    res: Resources, without_guard: Callable[..., None]
) -> None:
    """Control: the same race through the real route, join_queue.lua run as two calls (an
    arrival number, then the place): answers are computed before earlier numbers are
    placed, so positions repeat and are not the customers' real places."""
    without_guard("atomic_join")
    event_id, ids, answers = await a_thousand_concurrent_joins(res)

    assert [a.status_code for a in answers] == [200] * N
    positions = [a.json()["position"] for a in answers]
    assert sorted(positions) != list(range(1, N + 1))
    assert max(Counter(positions).values()) > 1
    ranks = await asyncio.gather(*(res.redis.zrank(keys.queue(event_id), str(c)) for c in ids))
    assert [r + 1 for r in ranks] != positions

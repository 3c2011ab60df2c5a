"""A live socket open across a Redis loss stays open and, once pub/sub is back, gets a fresh
snapshot of what it may have missed: `/api/ws` the customer's decided orders,
`/api/events/{id}/live` the stock."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from core.auth import issue_customer_token
from core.resources import Resources
from tests.chaos.conftest import SCALE, RedisServer, System
from tests.factories import book_ticket, make_customer, make_event

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120 * max(1.0, SCALE))]


async def _until(
    ws: ClientConnection, match: Callable[[dict[str, Any]], bool], wait_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while True:
        message: dict[str, Any] = json.loads(
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        )
        if match(message):
            return message


async def test_sockets_open_across_a_redis_restart_get_what_they_missed(
    res: Resources, redis_servers: Callable[..., RedisServer], system_factory: Callable[..., System]
) -> None:
    redis = redis_servers()
    system = system_factory({"REDIS_URL": redis.url})
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn, name="Rita Lee")
        other = await make_customer(conn)
        event_id = await make_event(conn, capacity=5)
    ws_base = system.base.replace("http://", "ws://", 1)
    async with (
        connect(f"{ws_base}/api/ws?token={issue_customer_token(buyer)}") as mine,
        connect(f"{ws_base}/api/events/{event_id}/live") as live,
    ):
        assert (await _until(mine, lambda m: True, 5))["type"] == "ready"
        first = await _until(live, lambda m: m["type"] == "stock", 5)
        assert first["available"] == 5

        redis.kill()
        # Decided while Redis is away: nobody can publish it. An order of the buyer (as the
        # worker records a rejection) and a ticket sold to someone else.
        order_id = uuid.uuid4()
        async with res.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO orders (id, event_id, customer_id, quantity, status, reason, decided_at)"
                " VALUES ($1, $2, $3, 1, 'rejected', 'payment_declined', now())",
                order_id,
                event_id,
                buyer,
            )
            await book_ticket(conn, customer_id=other, event_id=event_id)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(redis.start)

        heard = await _until(mine, lambda m: m["type"] == "order", 10)
        assert heard["order"]["id"] == str(order_id) and heard["order"]["status"] == "rejected"
        assert (await _until(mine, lambda m: True, 5))["type"] == "ready"  # the snapshot is complete
        stock = await _until(live, lambda m: m["type"] == "stock" and m["available"] == 4, 10)
        assert stock["sold"] == 1
    system.assert_all_alive()
    assert "pub/sub reconnected" in system.log("api")


async def test_a_queue_socket_stays_open_across_a_redis_restart_and_tells_the_place_again(
    res: Resources, redis_servers: Callable[..., RedisServer], system_factory: Callable[..., System]
) -> None:
    redis = redis_servers()
    system = system_factory({"REDIS_URL": redis.url})
    async with res.pool.acquire() as conn:
        first, second = await make_customer(conn), await make_customer(conn)
        event_id = await make_event(conn, waiting_room=True, capacity=3)
        await conn.execute("UPDATE waiting_rooms SET paused = true WHERE event_id = $1", event_id)
    async with httpx.AsyncClient(base_url=system.base, timeout=10) as http:
        for customer in (first, second):
            joined = await http.post(
                f"/api/events/{event_id}/queue",
                headers={"Authorization": f"Bearer {issue_customer_token(customer)}"},
            )
            assert joined.status_code == 200 and joined.json()["status"] == "waiting", joined.text
    url = f"{system.base.replace('http://', 'ws://', 1)}/api/events/{event_id}/queue/ws?token="
    async with connect(url + issue_customer_token(second)) as ws:
        assert (await _until(ws, lambda m: m["type"] == "position", 5))["position"] == 2
        redis.kill()
        await asyncio.sleep(2.5)  # past a periodic push (every 2 s): it meets Redis away
        await asyncio.to_thread(redis.start)
        again = await _until(ws, lambda m: m["type"] == "position", 10)
        assert again["position"] == 2
    system.assert_all_alive()

"""The live WebSockets over a real socket: a customer's own orders on /api/ws, stock and
purchases on /api/events/{id}/live."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.auth import issue_customer_token
from core.resources import Resources
from tests.factories import make_customer, make_event
from tests.integration.reservations.orders.helpers import post_order, wait_idle
from tests.wstickets import ws_url

pytestmark = pytest.mark.e2e


def _ws(base: str, path: str) -> str:
    return base.replace("http://", "ws://", 1) + path


async def _next(ws: ClientConnection, wait_s: float = 3.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait_s))
    return message


async def _until(ws: ClientConnection, kind: str, wait_s: float = 3.0) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while True:
        message = await _next(ws, max(0.01, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def test_each_customer_hears_their_own_order_and_no_one_elses(
    res: Resources, live_server: str, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        alice = await make_customer(conn, name="Alice Smith")
        bob = await make_customer(conn, name="Bob Jones")
        event_id = await make_event(conn, capacity=5)
    async with (
        connect(await ws_url(live_server, "/api/ws", issue_customer_token(alice))) as ws_a,
        connect(await ws_url(live_server, "/api/ws", issue_customer_token(bob))) as ws_b,
        httpx.AsyncClient(base_url=live_server) as http,
    ):
        assert (await _next(ws_a))["type"] == "ready"
        assert (await _next(ws_b))["type"] == "ready"
        start = time.monotonic()
        order_a = (await post_order(http, alice, event_id)).json()
        order_b = (await post_order(http, bob, event_id)).json()
        got_a = await _next(ws_a)
        elapsed = time.monotonic() - start
        got_b = await _next(ws_b)
        assert got_a["type"] == "order" and got_a["order"]["id"] == order_a["id"]
        assert got_a["order"]["status"] == "confirmed" and len(got_a["order"]["purchases"]) == 1
        assert got_b["type"] == "order" and got_b["order"]["id"] == order_b["id"]
        assert elapsed < 2.0
        with pytest.raises(TimeoutError):  # nothing else arrives: not the other's order
            await _next(ws_a, wait_s=0.5)
    await wait_idle(res.redis)


async def test_a_socket_without_a_valid_customer_ticket_is_closed(res: Resources, live_server: str) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
    token = issue_customer_token(customer)
    used = await ws_url(live_server, "/api/ws", token)
    async with connect(used) as ws:
        assert (await _next(ws))["type"] == "ready"
    async with httpx.AsyncClient(base_url=live_server) as http:
        joined = await http.post(f"/api/events/{await _room(res)}/queue")
    visitor = await ws_url(live_server, "/api/ws", joined.json()["visitor_token"])
    for url, code in [
        (_ws(live_server, "/api/ws"), 4401),
        (_ws(live_server, "/api/ws?ticket=made-up"), 4401),
        (_ws(live_server, f"/api/ws?token={token}"), 4401),  # a token in the URL opens nothing
        (used, 4401),  # one handshake per ticket
        (visitor, 4403),  # a visitor has no orders or holds
    ]:
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await _next(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code, url


async def _room(res: Resources) -> uuid.UUID:
    async with res.pool.acquire() as conn:
        return await make_event(conn, waiting_room=True)


async def test_the_event_feed_shows_stock_then_purchases(
    res: Resources, live_server: str, orders_worker: object, worker: object
) -> None:
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn, name="Maria da Silva")
        event_id = await make_event(conn, capacity=2)
    async with (
        connect(_ws(live_server, f"/api/events/{event_id}/live")) as ws,
        httpx.AsyncClient(base_url=live_server) as http,
    ):
        first = await _next(ws)
        on_sale = {"type": "stock", "status": "on_sale"}  # no `types`: the event has none
        assert first == {**on_sale, "sold": 0, "held": 0, "available": 2}
        assert (await _next(ws))["type"] == "ready"
        assert (await post_order(http, buyer, event_id)).status_code == 202
        purchase = await _until(ws, "purchase")
        assert purchase["buyer"] == "Maria S." and purchase["at"]
        stock = await _until(ws, "stock")
        while stock["sold"] != 1:  # the push while the order is held may come first
            stock = await _until(ws, "stock")
        assert stock == {**on_sale, "sold": 1, "held": 0, "available": 1}


async def test_the_event_feed_of_an_unknown_event_is_closed(res: Resources, live_server: str) -> None:
    async with connect(_ws(live_server, f"/api/events/{uuid.uuid4()}/live")) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await _next(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


async def test_open_sockets_are_counted(res: Resources, live_server: str) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=1)

    async def gauge(http: httpx.AsyncClient) -> float:
        for line in (await http.get("/metrics")).text.splitlines():
            if line.startswith('crowdpass_open_websockets{kind="event"}'):
                return float(line.split()[-1])
        return 0.0

    async with httpx.AsyncClient(base_url=live_server) as http:
        before = await gauge(http)
        async with connect(_ws(live_server, f"/api/events/{event_id}/live")) as ws:
            await _until(ws, "ready")
            assert await gauge(http) == before + 1
        for _ in range(100):
            if await gauge(http) == before:
                break
            await asyncio.sleep(0.02)
        assert await gauge(http) == before

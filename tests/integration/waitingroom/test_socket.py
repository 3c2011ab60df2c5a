"""The visitor's WebSocket through a real server (uvicorn in the test loop)."""

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
from tests.factories import make_customer, make_customers, make_event
from tests.integration.waitingroom.support import admit_use, join, tick
from tests.wstickets import ws_ticket
from tests.wstickets import ws_url as ticket_url
from waitingroom import keys
from waitingroom.service import grant_grace, return_to_queue


async def ws_url(base: str, event_id: uuid.UUID, token: str) -> str:
    return await ticket_url(base, f"/api/events/{event_id}/queue/ws", token)


async def recv(ws: ClientConnection, wait_s: float = 3.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), wait_s))  # type: ignore[no-any-return]


async def close_code(url: str) -> int:
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 3)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_socket_refusals_carry_close_codes(res: Resources, live_server: str) -> None:
    async with res.pool.acquire() as conn:
        room = await make_event(conn, waiting_room=True)
        plain = await make_event(conn, waiting_room=False)
        customer = await make_customer(conn)
    token = issue_customer_token(customer)

    socket = f"{live_server.replace('http', 'ws', 1)}/api/events/{room}/queue/ws"
    assert await close_code(socket) == 4401  # no ticket
    assert await close_code(f"{socket}?ticket=made-up") == 4401
    assert await close_code(f"{socket}?token={token}") == 4401  # a token in the URL opens nothing
    assert await close_code(await ws_url(live_server, uuid.uuid4(), token)) == 4404
    assert await close_code(await ws_url(live_server, plain, token)) == 4409
    used = await ws_url(live_server, room, token)
    assert await close_code(used) == 4404  # not in the queue
    assert await close_code(used) == 4401  # a ticket opens one handshake only
    async with httpx.AsyncClient(base_url=live_server) as http:
        for bad, status in (("not-a-token", 401), (res.settings.admin_token, 403)):
            r = await http.post("/api/ws-tickets", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == status, r.text
        r = await http.post(f"/api/ws-tickets?token={token}")
        assert r.status_code == 401  # the token only in the Authorization header


async def test_a_ticket_expires_unused(res: Resources, live_server: str) -> None:
    async with res.pool.acquire() as conn:
        room = await make_event(conn, waiting_room=True)
        customer = await make_customer(conn)
    await join(res, room, customer)
    ticket = await ws_ticket(live_server, issue_customer_token(customer))
    assert 0 < await res.redis.ttl(f"cp:ws-ticket:{ticket}") <= res.settings.ws_ticket_ttl_s
    await res.redis.delete(f"cp:ws-ticket:{ticket}")  # what its expiry does
    socket = f"{live_server.replace('http', 'ws', 1)}/api/events/{room}/queue/ws?ticket={ticket}"
    assert await close_code(socket) == 4401


async def test_a_visitor_and_a_customer_with_their_visitor_get_their_place(
    res: Resources, live_server: str
) -> None:
    async with res.pool.acquire() as conn:
        room = await make_event(conn, waiting_room=True, capacity=5)
        customer = await make_customer(conn)
    await res.pool.execute("UPDATE waiting_rooms SET paused = true WHERE event_id = $1", room)
    async with httpx.AsyncClient(base_url=live_server) as http:
        joined = await http.post(f"/api/events/{room}/queue")
        assert joined.status_code == 200, joined.text
    visitor = joined.json()["visitor_token"]
    path = f"/api/events/{room}/queue/ws"
    async with connect(await ticket_url(live_server, path, visitor)) as ws:
        assert (await recv(ws))["type"] == "position"
    ticket = await ws_ticket(live_server, issue_customer_token(customer), visitor_token=visitor)
    async with connect(f"{live_server.replace('http', 'ws', 1)}{path}?ticket={ticket}") as ws:
        assert (await recv(ws))["type"] == "position"


async def test_position_at_least_every_two_seconds_then_the_admission(
    res: Resources, live_server: str
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=3)
        ids = await make_customers(conn, 6)
    await res.pool.execute("UPDATE waiting_rooms SET paused = true WHERE event_id = $1", event_id)
    for c in ids:
        await join(res, event_id, c)
    me = ids[4]

    async with connect(await ws_url(live_server, event_id, issue_customer_token(me))) as ws:
        first = await recv(ws)
        # No tick runs: the socket still speaks every 2 s at the latest.
        started = time.monotonic()
        quiet = [await recv(ws), await recv(ws)]
        gaps = time.monotonic() - started
        # The sale resumes: one tick admits three, the broadcast moves everyone up.
        await res.pool.execute("UPDATE waiting_rooms SET paused = false WHERE event_id = $1", event_id)
        result = await tick(res, event_id)
        moved = await recv(ws)
        while moved["state"] != "open":
            moved = await recv(ws)
        # The three admitted give their admissions up: the next tick admits me.
        for a in result.admitted:
            await res.redis.zrem(keys.admitted(event_id), a.customer_id)
            await res.redis.hdel(keys.admission_ids(event_id), a.customer_id)
        admitted_msg: dict[str, Any] | None = None
        await tick(res, event_id)
        while admitted_msg is None:
            m = await recv(ws)
            if m["type"] == "admitted":
                admitted_msg = m
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)

    assert first == {
        "type": "position",
        "position": 5,
        "eta_s": None,
        "eta_range_s": None,
        "rate": 0.0,
        "blocked": False,
        "beyond_stock": False,
        "state": "paused",
    }
    assert [q["position"] for q in quiet] == [5, 5]
    assert gaps <= 2 * 2.0 + 0.5
    assert moved["type"] == "position" and moved["position"] == 2
    # Three admissions for three tickets: nobody more can be admitted until one comes back,
    # so there is no honest estimate ("blocked"), however fast the line just moved.
    assert moved["blocked"] is True and moved["eta_s"] is None
    assert admitted_msg is not None and admitted_msg["admission_token"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    await admit_use(res, event_id, me, admitted_msg["admission_token"])  # the token works once


async def test_broadcast_moves_the_position_and_a_leaver_ahead_shows_on_the_exact_read(
    res: Resources, live_server: str
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=100, max_admit_per_s=2)
        ids = await make_customers(conn, 6)
    for c in ids:
        await join(res, event_id, c)
    await tick(res, event_id)  # admits 2; the room is open
    await asyncio.sleep(1.05)  # a fresh second for the rate cap

    async with connect(await ws_url(live_server, event_id, issue_customer_token(ids[5]))) as ws:
        first = await recv(ws)
        await tick(res, event_id)  # admits 2 more: the broadcast alone moves me up by 2
        after_tick = await recv(ws, wait_s=1.0)  # well before the 2 s push: it is the broadcast
        await res.redis.zrem(keys.queue(event_id), str(ids[4]))  # the one ahead leaves
        exact = await recv(ws)  # the 2 s push reads the exact rank

    assert first["position"] == 4 and first["state"] == "open"
    assert after_tick["position"] == 2
    assert exact["position"] == 1


async def test_admissions_reach_only_their_visitor_over_one_subscription_per_event(
    res: Resources, live_server: str
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=1)
        ids = await make_customers(conn, 3)
    await res.pool.execute("UPDATE waiting_rooms SET paused = true WHERE event_id = $1", event_id)
    for c in ids:
        await join(res, event_id, c)
    channel = keys.admissions_channel(event_id)

    async def subscribers() -> int:
        return int(dict(await res.redis.pubsub_numsub(channel))[channel.encode()])

    sockets = [await connect(await ws_url(live_server, event_id, issue_customer_token(c))) for c in ids]
    try:
        for ws in sockets:
            assert (await recv(ws))["position"] is not None
        during = await subscribers()
        await res.pool.execute("UPDATE waiting_rooms SET paused = false WHERE event_id = $1", event_id)
        result = await tick(res, event_id)  # capacity 1: the first in the queue only
        first = await recv(sockets[0])
        while first["type"] != "admitted":
            first = await recv(sockets[0])
        others = [await recv(ws) for ws in sockets[1:]]
    finally:
        for ws in sockets:
            await ws.close()
    for _ in range(50):  # the last socket out ends the subscription
        if await subscribers() == 0:
            break
        await asyncio.sleep(0.05)

    assert during == 1  # three sockets, one subscription
    assert [a.customer_id for a in result.admitted] == [str(ids[0])]
    assert set(first) == {"type", "admission_token", "admission_expires_at"}
    assert all(m["type"] == "position" for m in others)
    assert await subscribers() == 0


async def test_a_grace_return_ahead_moves_the_position_back_with_the_broadcast(
    res: Resources, live_server: str
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=100, max_admit_per_s=2)
        ids = await make_customers(conn, 7)
    returner, waiting = ids[6], ids[:6]
    for c in waiting:
        await join(res, event_id, c)
    await tick(res, event_id)  # admits 2; the room is open
    await asyncio.sleep(1.05)  # a fresh second for the rate cap
    # The returner's admission was used by a hold that expired: the grace offer.
    await res.redis.hset(keys.done(event_id), str(returner), "used:1")
    assert await grant_grace(res.redis, event_id=event_id, customer_id=returner) is not None

    async with connect(await ws_url(live_server, event_id, issue_customer_token(waiting[5]))) as ws:
        first = await recv(ws)
        async with res.pool.acquire() as conn:
            await return_to_queue(conn, res.redis, event_id=event_id, owner=returner)
        result = await tick(res, event_id)  # admits the returner and the next: 4 - 2 + 1
        after_tick = await recv(ws, wait_s=1.0)  # before the 2 s push: it is the broadcast

    assert first["position"] == 4
    assert [a.customer_id for a in result.admitted] == [str(returner), str(waiting[2])]
    assert after_tick["position"] == 3

"""Sold out reaches every connected socket within a second of the last sale: the stock
hook enqueues an advance, the arq worker publishes one broadcast on Redis, the API
process's channels hand it to each socket."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect

from core.auth import issue_customer_token
from core.resources import Resources
from tests.factories import make_customers, make_event
from tests.integration.waitingroom.support import api_processes, join, sell_out
from tests.wstickets import ws_url

pytestmark = pytest.mark.concurrency

SOCKETS = 100


async def test_sold_out_reaches_every_socket_within_one_second(res: Resources, worker: Any) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=3)
        ids = await make_customers(conn, SOCKETS)
    await res.pool.execute("UPDATE waiting_rooms SET paused = true WHERE event_id = $1", event_id)
    for c in ids:
        await join(res, event_id, c)

    async with api_processes(res, 1) as (api,):
        path = f"/api/events/{event_id}/queue/ws"
        sockets = [await connect(await ws_url(api, path, issue_customer_token(c))) for c in ids]
        try:
            firsts = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for ws in sockets]

            async def until_sold_out(ws: Any) -> float:
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "sold_out":
                        return time.monotonic()

            waiters = [asyncio.create_task(until_sold_out(ws)) for ws in sockets]
            await asyncio.sleep(0.1)
            sold_at = time.monotonic()
            await sell_out(res, event_id)
            arrivals = await asyncio.wait_for(asyncio.gather(*waiters), 5)
        finally:
            for ws in sockets:
                await ws.close()

    assert {m["type"] for m in firsts} == {"position"}
    delays = [a - sold_at for a in arrivals]
    assert len(delays) == SOCKETS
    assert max(delays) < 1.0, f"slowest socket heard sold out after {max(delays):.3f} s"

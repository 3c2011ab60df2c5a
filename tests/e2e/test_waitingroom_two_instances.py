"""Two API processes behind one Redis: a visitor whose socket is on one instance receives
the admission the worker issued, fanned out through Redis pub/sub; the token then buys on
the other instance, once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from core.auth import issue_customer_token
from core.resources import Resources
from tests.factories import make_customers, make_event
from tests.integration.waitingroom.support import admin, api_processes, auth
from tests.wstickets import ws_ticket

pytestmark = pytest.mark.e2e


async def test_admission_reaches_a_socket_on_the_other_instance(res: Resources, worker: Any) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
        me, other = await make_customers(conn, 2)
    async with api_processes(res, 2) as (api_a, api_b), httpx.AsyncClient(timeout=5) as http:
        paused = await http.patch(
            f"{api_a}/api/events/{event_id}/waiting-room", json={"paused": True}, headers=admin(res)
        )
        joined = await http.post(f"{api_a}/api/events/{event_id}/queue", headers=auth(me))
        # The ticket is asked of instance A and opens the socket on instance B (Redis).
        ticket = await ws_ticket(api_a, issue_customer_token(me))
        url = f"{api_b.replace('http', 'ws', 1)}/api/events/{event_id}/queue/ws?ticket={ticket}"
        async with connect(url) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            # The organizer resumes on instance A; the worker admits; B's socket hears it.
            await http.patch(
                f"{api_a}/api/events/{event_id}/waiting-room", json={"paused": False}, headers=admin(res)
            )
            message = first
            while message["type"] != "admitted":
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        token = message["admission_token"]
        no_token = await http.post(
            f"{api_b}/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(me)
        )
        stolen = await http.post(
            f"{api_b}/api/events/{event_id}/holds",
            json={"quantity": 1},
            headers={**auth(other), "Admission-Token": token},
        )
        hold = await http.post(
            f"{api_a}/api/events/{event_id}/holds",
            json={"quantity": 1},
            headers={**auth(me), "Admission-Token": token},
        )
        reused = await http.post(
            f"{api_b}/api/events/{event_id}/holds",
            json={"quantity": 1},
            headers={**auth(me), "Admission-Token": token},
        )

    assert paused.status_code == 200 and joined.json()["position"] == 1
    assert first["type"] == "position" and first["state"] == "paused"
    assert message["admission_expires_at"]
    assert no_token.status_code == 403 and no_token.json()["error"] == "admission_required"
    assert stolen.status_code == 403 and stolen.json()["error"] == "admission_required"
    assert hold.status_code == 201, hold.text
    assert reused.status_code == 403 and reused.json()["error"] == "admission_required"

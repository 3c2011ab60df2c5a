"""The hold endpoint on waiting-room events: an admission token, valid and unused, or 403."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import jwt

from core.resources import Resources
from tests.factories import make_customers, make_event, stock_counts
from tests.integration.waitingroom.support import auth, join, tick, token_of


async def hold(
    client: httpx.AsyncClient, event_id: uuid.UUID, customer: uuid.UUID, token: str | None
) -> httpx.Response:
    headers = auth(customer) | ({"Admission-Token": token} if token is not None else {})
    return await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=headers)


async def test_holds_need_a_valid_unused_admission(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_a = await make_event(conn, waiting_room=True, capacity=5)
        event_b = await make_event(conn, waiting_room=True, capacity=5)
        plain = await make_event(conn, waiting_room=False, capacity=5)
        me, other = await make_customers(conn, 2)
    for event_id in (event_a, event_b):
        await join(res, event_id, me)
        await join(res, event_id, other)
    admitted_a = {a.customer_id: a for a in (await tick(res, event_a)).admitted}
    admitted_b = {a.customer_id: a for a in (await tick(res, event_b)).admitted}
    mine = token_of(event_a, admitted_a[str(me)])
    theirs = token_of(event_a, admitted_a[str(other)])
    claims = jwt.decode(mine, options={"verify_signature": False})
    forged = jwt.encode(claims, "an-attacker-secret-that-is-long-enough-0123456789", algorithm="HS256")

    refusals = {
        "no token": await hold(client, event_a, me, None),
        "empty": await hold(client, event_a, me, ""),
        "not a jwt": await hold(client, event_a, me, "abc.def"),
        "forged": await hold(client, event_a, me, forged),
        "other event": await hold(client, event_a, me, token_of(event_b, admitted_b[str(me)])),
        "other customer": await hold(client, event_a, me, theirs),
    }
    good = await hold(client, event_a, me, mine)
    reused = await hold(client, event_a, me, mine)
    no_room = await hold(client, plain, me, None)
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_a)

    for name, r in refusals.items():
        assert r.status_code == 403, name
        assert r.json()["error"] == "admission_required", name
    assert good.status_code == 201, good.text
    assert reused.status_code == 403 and reused.json()["error"] == "admission_required"
    assert "already used" in reused.json()["detail"]
    assert no_room.status_code == 201
    assert counts["IN_PROGRESS"] == 1  # the refused attempts held nothing


async def test_an_expired_admission_is_refused(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
        (me,) = await make_customers(conn, 1)
    await join(res, event_id, me)
    admission = (await tick(res, event_id, ttl_s=0.3)).admitted[0]
    token = token_of(event_id, admission)
    await asyncio.sleep(max(0.0, admission.expires_ms / 1000 - time.time()) + 0.05)

    late = await hold(client, event_id, me, token)

    assert late.status_code == 403
    assert late.json()["error"] == "admission_required"
    assert "expired" in late.json()["detail"]

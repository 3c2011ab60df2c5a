"""Joining, looking up and leaving the queue through the API, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from core.auth import issue_customer_token
from core.resources import Resources
from tests.factories import make_customer, make_customers, make_event
from tests.integration.waitingroom.support import admin, auth, in_seconds, join, tick
from waitingroom import keys
from waitingroom.service import proof


async def test_join_gives_one_place_per_customer_in_arrival_order(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=10)
        a, b = await make_customers(conn, 2)
    await client.patch(f"/api/events/{event_id}/waiting-room", json={"paused": True}, headers=admin(res))

    r1 = await client.post(f"/api/events/{event_id}/queue", headers=auth(a))
    r2 = await client.post(f"/api/events/{event_id}/queue", headers=auth(b))
    again = await client.post(f"/api/events/{event_id}/queue", headers=auth(a))
    me = await client.get(f"/api/events/{event_id}/queue/me", headers=auth(b))

    assert r1.status_code == 200, r1.text
    assert r1.json()["status"] == "waiting"
    assert r1.json()["position"] == 1
    assert r2.json()["position"] == 2
    assert again.json()["position"] == 1
    assert me.status_code == 200
    assert me.json()["position"] == 2
    assert me.json()["state"] == "paused"
    assert me.json()["eta_s"] is None
    assert await res.redis.zcard(keys.queue(event_id)) == 2


async def test_leaving_frees_the_place(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=10)
        a, b = await make_customers(conn, 2)
    await client.patch(f"/api/events/{event_id}/waiting-room", json={"paused": True}, headers=admin(res))
    await client.post(f"/api/events/{event_id}/queue", headers=auth(a))
    await client.post(f"/api/events/{event_id}/queue", headers=auth(b))

    left = await client.delete(f"/api/events/{event_id}/queue/me", headers=auth(a))
    me_b = await client.get(f"/api/events/{event_id}/queue/me", headers=auth(b))
    me_a = await client.get(f"/api/events/{event_id}/queue/me", headers=auth(a))
    twice = await client.delete(f"/api/events/{event_id}/queue/me", headers=auth(a))

    assert left.status_code == 204
    assert me_b.json()["position"] == 1
    assert me_a.status_code == 404
    assert me_a.json()["error"] == "not_in_queue"
    assert twice.status_code == 404


async def test_admitted_visitor_gets_the_same_token_on_every_read(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=10)
        customer = await make_customer(conn)
    await client.post(f"/api/events/{event_id}/queue", headers=auth(customer))
    result = await tick(res, event_id)

    me = await client.get(f"/api/events/{event_id}/queue/me", headers=auth(customer))
    joined_again = await client.post(f"/api/events/{event_id}/queue", headers=auth(customer))

    assert [a.customer_id for a in result.admitted] == [str(customer)]
    assert me.json()["status"] == "admitted"
    assert me.json()["position"] == 0
    assert me.json()["admission_token"]
    assert me.json()["admission_expires_at"]
    assert joined_again.json()["admission_token"] == me.json()["admission_token"]


async def test_unknown_event_no_waiting_room_and_bad_tokens(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        plain = await make_event(conn, waiting_room=False)
        room = await make_event(conn, waiting_room=True)
        customer = await make_customer(conn)

    unknown = await client.post(f"/api/events/{uuid.uuid4()}/queue", headers=auth(customer))
    no_room = await client.post(f"/api/events/{plain}/queue", headers=auth(customer))
    no_token_me = await client.get(f"/api/events/{room}/queue/me")
    bad_token = await client.post(f"/api/events/{room}/queue", headers={"Authorization": "Bearer not.a.jwt"})
    organizer = await client.post(f"/api/events/{room}/queue", headers=admin(res))
    customer_on_stats = await client.get(f"/api/events/{room}/waiting-room", headers=auth(customer))

    assert unknown.status_code == 404
    assert unknown.json()["error"] == "event_not_found"
    assert no_room.status_code == 409
    assert no_room.json()["error"] == "no_waiting_room"
    assert no_token_me.status_code == 401  # joining without a token: a visitor (test_visitors.py)
    assert bad_token.status_code == 401
    assert bad_token.json()["error"] == "unauthorized"
    assert organizer.status_code == 403
    assert customer_on_stats.status_code == 403


async def test_join_rate_limit_per_customer_answers_429_with_retry_after(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True)
        customer, other = await make_customers(conn, 2)
    headers = auth(customer)
    per_customer = res.settings.join_limit_per_customer
    answers = [
        (await client.post(f"/api/events/{event_id}/queue", headers=headers)).status_code
        for _ in range(per_customer)
    ]
    refused = await client.post(f"/api/events/{event_id}/queue", headers=headers)
    other_customer = await client.post(f"/api/events/{event_id}/queue", headers=auth(other))

    assert answers == [200] * per_customer
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert other_customer.status_code == 200


async def test_join_rate_limit_per_ip(res: Resources) -> None:
    from app import create_app

    per_address = res.settings.join_limit_per_address
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True)
        ids = await make_customers(conn, per_address + 1)
    app = create_app(resources=res)
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 4000)), base_url="http://t"
        ) as one_ip,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.8", 4000)), base_url="http://t"
        ) as other_ip,
    ):
        codes = [
            (await one_ip.post(f"/api/events/{event_id}/queue", headers=auth(c))).status_code for c in ids
        ]
        elsewhere = await other_ip.post(f"/api/events/{event_id}/queue", headers=auth(ids[-1]))
    assert codes[:-1] == [200] * per_address
    assert codes[-1] == 429
    assert elsewhere.status_code == 200


async def test_proof_of_work_when_the_event_asks_for_it(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True)
        customer, other = await make_customers(conn, 2)
    patched = await client.patch(
        f"/api/events/{event_id}/waiting-room", json={"pow_difficulty": 8}, headers=admin(res)
    )
    assert patched.json()["pow_difficulty"] == 8

    without = await client.post(f"/api/events/{event_id}/queue", headers=auth(customer))
    challenge = (await client.get(f"/api/events/{event_id}/queue/challenge", headers=auth(customer))).json()
    nonce = proof.solve(challenge["challenge"], challenge["difficulty"])
    wrong = next(str(i) for i in range(1000) if not proof.solves(challenge["challenge"], str(i), 8))
    bad = await client.post(
        f"/api/events/{event_id}/queue",
        json={"pow_challenge": challenge["challenge"], "pow_nonce": wrong},
        headers=auth(customer),
    )
    stolen = await client.post(
        f"/api/events/{event_id}/queue",
        json={"pow_challenge": challenge["challenge"], "pow_nonce": nonce},
        headers=auth(other),
    )
    good = await client.post(
        f"/api/events/{event_id}/queue",
        json={"pow_challenge": challenge["challenge"], "pow_nonce": nonce},
        headers=auth(customer),
    )
    replay = await client.post(
        f"/api/events/{event_id}/queue",
        json={"pow_challenge": challenge["challenge"], "pow_nonce": nonce},
        headers=auth(customer),
    )

    assert challenge["difficulty"] == 8
    assert challenge["algorithm"] == "sha256-leading-zero-bits"
    assert without.status_code == 403
    assert without.json()["error"] == "pow_required"
    assert bad.status_code == 403
    assert stolen.status_code == 403
    assert good.status_code == 200, good.text
    assert replay.status_code == 403


async def test_join_body_is_validated(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True)
        customer = await make_customer(conn)
    unknown_field = await client.post(
        f"/api/events/{event_id}/queue",
        json={"pow_challenge": "x", "pow_nonce": "1", "x": 1},
        headers=auth(customer),
    )
    malformed = await client.post(
        f"/api/events/{event_id}/queue",
        content=b"{not json",
        headers={**auth(customer), "Content-Type": "application/json"},
    )
    assert unknown_field.status_code == 400
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/json")


async def test_fifo_prequeue_before_opening(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, sales_open_at=in_seconds(3600))
        ids = await make_customers(conn, 3)
    answers = [(await client.post(f"/api/events/{event_id}/queue", headers=auth(c))).json() for c in ids]
    result = await tick(res, event_id)

    assert [a["position"] for a in answers] == [1, 2, 3]
    assert {a["state"] for a in answers} == {"scheduled"}
    assert all(3500 <= a["eta_s"] <= 3700 for a in answers)
    assert result.admitted == []
    assert result.state == "scheduled"


async def test_concurrent_tokens_are_independent(res: Resources, client: httpx.AsyncClient) -> None:
    """Sanity: tokens of different customers never give the same place."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True)
        ids = await make_customers(conn, 20)
    await client.patch(f"/api/events/{event_id}/waiting-room", json={"paused": True}, headers=admin(res))
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/events/{event_id}/queue",
                headers={"Authorization": f"Bearer {issue_customer_token(c)}"},
            )
            for c in ids
        )
    )
    assert sorted(a.json()["position"] for a in answers) == list(range(1, 21))


async def test_a_visitor_beyond_what_the_stock_can_admit_gets_no_time(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5, max_admit_per_s=2)
        ids = await make_customers(conn, 7)
    for c in ids:
        await join(res, event_id, c)
    admitted = (await tick(res, event_id)).admitted  # 2 of 5 tickets promised: 3 more can come in

    def me(c: uuid.UUID) -> Any:
        return client.get(f"/api/events/{event_id}/queue/me", headers=auth(c))

    third, fifth = (await me(ids[4])).json(), (await me(ids[5])).json()  # positions 3 and 4

    assert len(admitted) == 2
    assert third["position"] == 3 and third["beyond_stock"] is False and third["eta_s"] is not None
    assert fifth["position"] == 4 and fifth["beyond_stock"] is True and fifth["eta_s"] is None

"""Anonymous visitors (API.md "Waiting room"): a visitor token to queue without an account,
refused when forged, expired or of another audience; the admission names the visitor and
a hold takes it once, only with that visitor's token; one place per person."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import jwt

from core.auth import VISITOR_AUDIENCE, issue_visitor_token
from core.config import get_settings
from core.resources import Resources
from tests.factories import make_customers, make_event, stock_counts
from tests.integration.waitingroom.support import auth, tick
from waitingroom import keys


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def paused_room(res: Resources, client: httpx.AsyncClient) -> tuple[uuid.UUID, uuid.UUID]:
    """A waiting-room event, paused (nobody is admitted), and a customer."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
        (customer,) = await make_customers(conn, 1)
    organizer = bearer(res.settings.admin_token)
    await client.patch(f"/api/events/{event_id}/waiting-room", json={"paused": True}, headers=organizer)
    return event_id, customer


async def newcomer(client: httpx.AsyncClient, event_id: uuid.UUID) -> tuple[str, dict[str, object]]:
    joined = await client.post(f"/api/events/{event_id}/queue")
    assert joined.status_code == 200, joined.text
    body = joined.json()
    return str(body["visitor_token"]), body


async def test_anonymous_join_gives_a_visitor_token_and_one_place(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, customer = await paused_room(res, client)
    first, body = await newcomer(client, event_id)
    second, _ = await newcomer(client, event_id)
    again = await client.post(f"/api/events/{event_id}/queue", headers=bearer(first))
    me = await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(first))
    theirs = await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(second))
    claims = jwt.decode(first, options={"verify_signature": False})

    assert body["status"] == "waiting" and body["position"] == 1
    assert claims["aud"] == VISITOR_AUDIENCE and claims["typ"] == "visitor"
    assert again.json()["position"] == 1 and again.json()["visitor_token"] is None
    assert me.json()["position"] == 1 and theirs.json()["position"] == 2
    assert await res.redis.zcard(keys.queue(event_id)) == 2
    # A visitor token is no customer token: nothing else of the API takes it.
    hold = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=bearer(first))
    assert hold.status_code == 401
    account = await client.get(f"/api/customers/{customer}", headers=bearer(first))
    assert account.status_code == 401


async def test_forged_expired_and_other_audience_visitor_tokens_are_refused(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True)
    token, _ = await newcomer(client, event_id)
    claims = jwt.decode(token, options={"verify_signature": False})
    secret = get_settings().jwt_secret
    forged = jwt.encode(claims, "an-attacker-secret-that-is-long-enough-0123456789", algorithm="HS256")
    other_audience = jwt.encode(claims | {"aud": str(event_id)}, secret, algorithm="HS256")
    not_a_visitor = jwt.encode(claims | {"typ": "admission"}, secret, algorithm="HS256")
    expired = issue_visitor_token(uuid.UUID(claims["sub"]), ttl_s=-5)

    for name, bad in {
        "forged": forged,
        "other audience": other_audience,
        "other type": not_a_visitor,
        "expired": expired,
    }.items():
        me = await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(bad))
        join = await client.post(f"/api/events/{event_id}/queue", headers=bearer(bad))
        socket_less = await client.delete(f"/api/events/{event_id}/queue/me", headers=bearer(bad))
        for answer in (me, join, socket_less):
            assert answer.status_code == 401, (name, answer.text)
            assert answer.json()["error"] == "unauthorized"
    assert await res.redis.zcard(keys.queue(event_id)) == 1


async def test_the_hold_binds_the_visitors_admission_to_the_customer_once(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
        ana, bob = await make_customers(conn, 2)
    ana_visitor, _ = await newcomer(client, event_id)
    bob_visitor, _ = await newcomer(client, event_id)
    await tick(res, event_id)
    ana_place = (await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(ana_visitor))).json()
    bob_place = (await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(bob_visitor))).json()
    assert ana_place["status"] == bob_place["status"] == "admitted"

    async def hold(customer: uuid.UUID, admission: str, visitor: str | None) -> httpx.Response:
        headers = auth(customer) | {"Admission-Token": admission}
        if visitor is not None:
            headers["Visitor-Token"] = visitor
        return await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=headers)

    refusals = {
        "another visitor's admission": await hold(bob, ana_place["admission_token"], bob_visitor),
        "no visitor token": await hold(ana, ana_place["admission_token"], None),
        "a forged visitor token": await hold(ana, ana_place["admission_token"], "abc.def.ghi"),
    }
    good = await hold(ana, ana_place["admission_token"], ana_visitor)
    reused = await hold(ana, ana_place["admission_token"], ana_visitor)
    stolen = await hold(bob, ana_place["admission_token"], ana_visitor)
    after = await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(ana_visitor))
    reload = await client.post(f"/api/events/{event_id}/queue", headers=bearer(ana_visitor))
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)

    for name, refused in refusals.items():
        assert refused.status_code == 403, name
        assert refused.json()["error"] == "admission_required", name
    assert good.status_code == 201, good.text
    assert reused.status_code == 403 and stolen.status_code == 403
    assert counts["IN_PROGRESS"] == 1
    # Used: every tab of the visitor hears so, and a reload takes no new place at the back.
    assert after.json()["status"] == "used" and after.json()["done_at"] is not None
    assert reload.json()["status"] == "used" and reload.json()["position"] is None
    assert await res.redis.zcard(keys.queue(event_id)) == 0
    # Only on purpose (`again`) does a visitor take a new place.
    rejoined = await client.post(
        f"/api/events/{event_id}/queue", json={"again": True}, headers=bearer(ana_visitor)
    )
    assert rejoined.json()["status"] == "waiting" and rejoined.json()["position"] == 1


async def test_an_unused_admission_that_expires_is_reported_not_rejoined(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
    visitor, _ = await newcomer(client, event_id)
    await tick(res, event_id, ttl_s=0.05)
    await asyncio.sleep(0.1)
    await tick(res, event_id)
    me = await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(visitor))
    reload = await client.post(f"/api/events/{event_id}/queue", headers=bearer(visitor))

    assert me.json()["status"] == "expired"
    assert reload.json()["status"] == "expired"
    assert await res.redis.zcard(keys.queue(event_id)) == 0


async def test_a_customer_signing_in_takes_the_visitors_place_on_every_device(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, ana = await paused_room(res, client)
    await newcomer(client, event_id)
    visitor, place = await newcomer(client, event_id)
    signed_in = await client.post(
        f"/api/events/{event_id}/queue", headers=auth(ana) | {"Visitor-Token": visitor}
    )
    other_device = await client.get(f"/api/events/{event_id}/queue/me", headers=auth(ana))
    other_device_join = await client.post(f"/api/events/{event_id}/queue", headers=auth(ana))

    assert place["position"] == 2
    assert signed_in.json()["position"] == 2
    assert other_device.json()["position"] == 2
    assert other_device_join.json()["position"] == 2
    assert await res.redis.zcard(keys.queue(event_id)) == 2

    # Admitted: the signed-in customer holds on the other device with the visitor's admission.
    organizer = bearer(res.settings.admin_token)
    await client.patch(f"/api/events/{event_id}/waiting-room", json={"paused": False}, headers=organizer)
    await tick(res, event_id)
    admitted = (await client.get(f"/api/events/{event_id}/queue/me", headers=auth(ana))).json()
    hold = await client.post(
        f"/api/events/{event_id}/holds",
        json={"quantity": 1},
        headers=auth(ana) | {"Admission-Token": admitted["admission_token"]},
    )
    assert admitted["status"] == "admitted"
    assert hold.status_code == 201, hold.text

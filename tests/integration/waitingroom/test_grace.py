"""The grace window (docs/waiting-room.md, "Grace"): after a hold of a waiting-room sale
expires, its visitor may come back once, at the front of the line, within GRACE_WINDOW_S.
Refused a second time, after the window, after a cancel, and to anyone never admitted."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import msgspec
import pytest

from core.resources import Resources
from reservations.holds import service as holds
from tests.factories import make_customers, make_event
from tests.integration.waitingroom.support import auth, join, tick, token_of
from waitingroom import keys
from waitingroom.service import grace


async def admitted_hold(
    res: Resources, client: httpx.AsyncClient, event_id: uuid.UUID, customer: uuid.UUID
) -> uuid.UUID:
    """Join, be admitted by a tick, hold one ticket with the admission: the hold's id."""
    await join(res, event_id, customer)
    admitted = (await tick(res, event_id, transit_ms=0)).admitted  # earlier used admissions: done
    admission = next(a for a in admitted if a.customer_id == str(customer))
    r = await client.post(
        f"/api/events/{event_id}/holds",
        json={"quantity": 1},
        headers=auth(customer) | {"Admission-Token": token_of(event_id, admission)},
    )
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


async def expire_now(res: Resources, hold_id: uuid.UUID) -> None:
    """Make the hold overdue, then let the expiry job's function expire it."""
    await res.pool.execute("UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", hold_id)
    async with res.pool.acquire() as conn:
        assert await holds.expire_hold(conn, res.redis, hold_id=hold_id)


def path(event_id: uuid.UUID, tail: str) -> str:
    return f"/api/events/{event_id}/queue{tail}"


async def test_an_expired_hold_brings_its_visitor_back_at_the_front_once(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=1)
        ana, bruno, carla = await make_customers(conn, 3)
    hold_id = await admitted_hold(res, client, event_id, ana)
    await join(res, event_id, bruno)
    await join(res, event_id, carla)
    assert (await tick(res, event_id)).admitted == []  # the one ticket is held

    await expire_now(res, hold_id)
    offered = (await client.get(path(event_id, "/me"), headers=auth(ana))).json()
    back = await client.post(path(event_id, "/return"), headers=auth(ana))
    again = await client.post(path(event_id, "/return"), headers=auth(ana))
    behind = (await client.get(path(event_id, "/me"), headers=auth(bruno))).json()
    first = (await tick(res, event_id, transit_ms=0)).admitted  # Ana's used admission: not in transit

    assert offered["status"] == "used" and offered["grace_until"] is not None
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "waiting" and back.json()["position"] == 1
    assert behind["position"] == 2  # Bruno was first in line; Ana came back ahead of him
    assert again.status_code == 409 and again.json()["error"] == "grace_used"
    assert [a.customer_id for a in first] == [str(ana)]


async def test_a_return_after_the_window_is_refused(
    res: Resources, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = msgspec.structs.replace(res.settings, grace_window_s=0.2)
    monkeypatch.setattr(grace, "get_settings", lambda: short)
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=1)
        (ana,) = await make_customers(conn, 1)
    await expire_now(res, await admitted_hold(res, client, event_id, ana))
    await asyncio.sleep(0.3)

    late = await client.post(path(event_id, "/return"), headers=auth(ana))
    me = (await client.get(path(event_id, "/me"), headers=auth(ana))).json()

    assert late.status_code == 410 and late.json()["error"] == "grace_expired"
    assert me["status"] == "used" and me["grace_until"] is None
    assert await res.redis.zscore(keys.queue(event_id), str(ana)) is None  # no place taken


async def test_no_return_without_an_expired_hold_nor_a_second_offer(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=2)
        ana, bruno, carla = await make_customers(conn, 3)
    # Bruno cancels his hold himself: no grace. Carla is only waiting: nothing to come back to.
    bruno_hold = await admitted_hold(res, client, event_id, bruno)
    assert (await client.delete(f"/api/holds/{bruno_hold}", headers=auth(bruno))).status_code == 204
    await join(res, event_id, carla)
    refusals = {
        "cancelled": await client.post(path(event_id, "/return"), headers=auth(bruno)),
        "waiting": await client.post(path(event_id, "/return"), headers=auth(carla)),
    }
    # Ana: expired, came back, admitted again, expired again: no second offer.
    await expire_now(res, await admitted_hold(res, client, event_id, ana))
    assert (await client.post(path(event_id, "/return"), headers=auth(ana))).status_code == 200
    second_hold = await admitted_hold(res, client, event_id, ana)
    await expire_now(res, second_hold)
    second = await client.post(path(event_id, "/return"), headers=auth(ana))

    for name, r in refusals.items():
        assert r.status_code == 409 and r.json()["error"] == "grace_unavailable", (name, r.text)
    assert second.status_code == 409 and second.json()["error"] == "grace_used"


async def test_twenty_returns_at_once_take_one_place(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=1)
        (ana,) = await make_customers(conn, 1)
    await expire_now(res, await admitted_hold(res, client, event_id, ana))

    answers = await asyncio.gather(
        *(client.post(path(event_id, "/return"), headers=auth(ana)) for _ in range(20))
    )

    assert sorted(r.status_code for r in answers) == [200] + [409] * 19
    assert await res.redis.zcard(keys.queue(event_id)) == 1

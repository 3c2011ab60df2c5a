"""One extension per hold: POST /api/holds/{id}/extend, and expiry honouring the new time."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import httpx

from core.resources import Resources
from tests.factories import make_customer
from tests.integration.reservations.holds.test_holds import admin, auth, confirm, create_hold, setup


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def extended_at(res: Resources, hold_id: str) -> dt.datetime | None:
    value: dt.datetime | None = await res.pool.fetchval(
        "SELECT extended_at FROM holds WHERE id = $1", uuid.UUID(hold_id)
    )
    return value


async def extend(client: httpx.AsyncClient, hold_id: str, headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"/api/holds/{hold_id}/extend", headers=headers)


async def test_the_owner_extends_once_by_the_hold_ttl(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=2, hold_ttl_s=300)
    hold = (await create_hold(client, event_id, customer_id)).json()
    assert (hold["extension_s"], hold["extended_at"]) == (300, None)  # the creation's answer says it too
    seen = (await client.get(f"/api/holds/{hold['id']}", headers=auth(customer_id))).json()
    assert (seen["extension_s"], seen["extended_at"]) == (300, None)

    r = await extend(client, hold["id"], auth(customer_id))
    assert r.status_code == 200, r.text
    extended = r.json()
    added = (at(extended["expires_at"]) - at(hold["expires_at"])).total_seconds()
    assert abs(added - 300) < 0.01
    assert extended["extended_at"] is not None
    assert extended["extension_s"] == 0
    assert 595 <= extended["seconds_left"] <= 600
    seen = (await client.get(f"/api/holds/{hold['id']}", headers=auth(customer_id))).json()
    assert (seen["expires_at"], seen["extension_s"]) == (extended["expires_at"], 0)

    again = await extend(client, hold["id"], auth(customer_id))
    assert (again.status_code, again.json()["error"]) == (409, "hold_not_extendable")
    assert "once" in again.json()["detail"]
    # The extended hold is still paid for as usual.
    assert (await confirm(client, hold["id"], customer_id)).status_code == 200


async def test_the_organizer_setting_decides_what_an_extension_adds(
    client: httpx.AsyncClient, res: Resources
) -> None:
    body = {
        "name": "Extensions",
        "starts_at": "2031-01-01T20:00:00Z",
        "price_cents": 1000,
        "capacity": 5,
        "hold_ttl_s": 120,
        "hold_extension_s": 45,
    }
    created = await client.post("/api/events", json=body, headers=admin(res))
    assert created.status_code == 201, created.text
    async with res.pool.acquire() as conn:
        customer_id = await make_customer(conn)
    hold = (await create_hold(client, uuid.UUID(created.json()["id"]), customer_id)).json()
    assert hold["extension_s"] == 45
    r = await extend(client, hold["id"], auth(customer_id))
    assert r.status_code == 200, r.text
    assert abs((at(r.json()["expires_at"]) - at(hold["expires_at"])).total_seconds() - 45) < 0.01

    off = await client.post("/api/events", json={**body, "hold_extension_s": 0}, headers=admin(res))
    hold = (await create_hold(client, uuid.UUID(off.json()["id"]), customer_id)).json()
    assert hold["extension_s"] == 0
    seen = (await client.get(f"/api/holds/{hold['id']}", headers=auth(customer_id))).json()
    assert seen["extension_s"] == 0
    r = await extend(client, hold["id"], auth(customer_id))
    assert (r.status_code, r.json()["error"]) == (409, "hold_not_extendable")
    assert (
        await res.pool.fetchval("SELECT extended_at FROM holds WHERE id = $1", uuid.UUID(hold["id"])) is None
    )

    too_long = await client.post("/api/events", json={**body, "hold_extension_s": 3601}, headers=admin(res))
    assert (too_long.status_code, too_long.json()["field"]) == (400, "hold_extension_s")


async def test_only_the_owner_extends(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=2)
    hold = (await create_hold(client, event_id, customer_id)).json()
    async with res.pool.acquire() as conn:
        other = await make_customer(conn)
    assert (await extend(client, hold["id"], auth(other))).status_code == 403
    assert (await extend(client, hold["id"], admin(res))).status_code == 403
    assert (await extend(client, hold["id"], {})).status_code == 401
    assert (await extend(client, str(uuid.uuid4()), auth(customer_id))).status_code == 404
    assert (
        await res.pool.fetchval("SELECT extended_at FROM holds WHERE id = $1", uuid.UUID(hold["id"])) is None
    )


async def test_no_extension_after_expiry_or_once_ended(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=2, max_per_customer=2)
    overdue = (await create_hold(client, event_id, customer_id)).json()
    await res.pool.execute(
        "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(overdue["id"])
    )
    r = await extend(client, overdue["id"], auth(customer_id))
    assert (r.status_code, r.json()["error"]) == (409, "hold_not_extendable")
    cancelled = (await create_hold(client, event_id, customer_id)).json()
    assert (
        await client.delete(f"/api/holds/{cancelled['id']}", headers=auth(customer_id))
    ).status_code == 204
    r = await extend(client, cancelled["id"], auth(customer_id))
    assert (r.status_code, r.json()["error"]) == (409, "hold_not_extendable")


async def test_the_sweep_honours_the_new_expiry(
    client: httpx.AsyncClient, res: Resources, worker: Any
) -> None:
    event_id, customer_id = await setup(res, capacity=1, hold_ttl_s=5)
    await res.pool.execute("UPDATE events SET hold_extension_s = 3 WHERE id = $1", event_id)
    hold = (await create_hold(client, event_id, customer_id)).json()
    hold_id = uuid.UUID(hold["id"])
    r = await extend(client, hold["id"], auth(customer_id))
    assert r.status_code == 200, r.text
    new_expiry = at(r.json()["expires_at"]).timestamp()
    # Past the old time the hold stands: the worker's per-second sweep reads expires_at ...
    await asyncio.sleep(max(0.0, at(hold["expires_at"]).timestamp() - time.time()) + 1.5)
    assert await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", hold_id) == "active"
    # ... and expires it within two seconds of the new one.
    deadline = new_expiry + 3
    while time.time() < deadline:
        if await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", hold_id) == "expired":
            break
        await asyncio.sleep(0.05)
    lag = time.time() - new_expiry
    assert await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", hold_id) == "expired"
    assert -0.05 <= lag < 2.0

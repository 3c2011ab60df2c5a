"""Doors that were offline upload their scans of one ticket at the same moment, through a
real server: the earliest scan is the check-in, whatever order the uploads arrive in, and
every scan after it hears `already_checked_in`. The control switches the guard off."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.resources import Resources
from tests.integration.reservations.sale_helpers import admin, auth, buy, new_customer, new_event

pytestmark = pytest.mark.concurrency

DOORS = 20
EARLIEST = dt.datetime(2026, 1, 1, 18, 0, tzinfo=dt.UTC)


async def setup_ticket(res: Resources, api: httpx.AsyncClient) -> tuple[Any, str, str, list[str]]:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    [purchase] = await buy(api, event_id, buyer)
    code = (await api.get(f"/api/tickets/{purchase['id']}", headers=auth(buyer))).json()["code"]
    tokens = []
    for door in range(DOORS):
        r = await api.post(
            f"/api/events/{event_id}/door-tokens", json={"door": f"D{door}"}, headers=admin(res)
        )
        tokens.append(r.json()["token"])
    return event_id, purchase["id"], code, tokens


async def upload(base_url: str, event_id: Any, code: str, token: str, minutes: int) -> dict[str, Any]:
    # One client (connection) per door, as separate devices would.
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as door:
        at = (EARLIEST + dt.timedelta(minutes=minutes)).isoformat()
        r = await door.post(
            f"/api/events/{event_id}/checkins/offline",
            json={"scans": [{"code": code, "scanned_at": at}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()["results"][0]
        return result


async def stored(res: Resources, purchase_id: str) -> tuple[dt.datetime, str]:
    row = await res.pool.fetchrow(
        "SELECT checked_in_at, checked_in_door FROM purchases WHERE id = $1", purchase_id
    )
    return row["checked_in_at"], row["checked_in_door"]


async def test_parallel_uploads_keep_the_earliest_scan(res: Resources, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as api:
        event_id, purchase_id, code, tokens = await setup_ticket(res, api)
    gate = asyncio.Event()

    async def door(i: int) -> dict[str, Any]:
        await gate.wait()
        return await upload(live_server, event_id, code, tokens[i], minutes=i)  # door i scanned at +i min

    tasks = [asyncio.create_task(door(i)) for i in reversed(range(DOORS))]
    await asyncio.sleep(0.2)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert await stored(res, purchase_id) == (EARLIEST, "D0")
    by_door = {DOORS - 1 - n: r for n, r in enumerate(results)}
    assert by_door[0]["result"] == "admitted"
    # A scan that lost heard of a scan made before it.
    for i, r in by_door.items():
        assert r["result"] in ("admitted", "already_checked_in")
        if r["result"] == "already_checked_in":
            assert dt.datetime.fromisoformat(r["checked_in_at"]) < EARLIEST + dt.timedelta(minutes=i)


async def later_scans_after_the_first(
    res: Resources, base_url: str
) -> tuple[Counter[str], tuple[dt.datetime, str]]:
    """The earliest scan is uploaded first; then 19 later scans of the ticket race each other."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        event_id, purchase_id, code, tokens = await setup_ticket(res, api)
    first = await upload(base_url, event_id, code, tokens[0], minutes=0)
    gate = asyncio.Event()

    async def door(i: int) -> str:
        await gate.wait()
        return str((await upload(base_url, event_id, code, tokens[i], minutes=i))["result"])

    tasks = [asyncio.create_task(door(i)) for i in range(1, DOORS)]
    await asyncio.sleep(0.2)
    gate.set()
    results = Counter([first["result"], *await asyncio.gather(*tasks)])
    return results, await stored(res, purchase_id)


async def test_later_scans_are_already_checked_in(res: Resources, live_server: str) -> None:
    results, record = await later_scans_after_the_first(res, live_server)
    assert results == Counter({"admitted": 1, "already_checked_in": DOORS - 1})
    assert record == (EARLIEST, "D0")


async def test_control_without_the_guard_a_later_scan_overwrites_the_first(
    res: Resources, live_server: str, without_guard: Callable[..., None]
) -> None:
    without_guard("earliest_scan_wins")
    results, record = await later_scans_after_the_first(res, live_server)
    assert results["admitted"] > 1
    assert record != (EARLIEST, "D0")

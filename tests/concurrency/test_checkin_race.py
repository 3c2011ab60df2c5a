"""50 doors scan one ticket at the same moment, through a real server: exactly one is
admitted, and the database records one check-in. The control switches the guard off."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from core.resources import Resources
from tests.integration.reservations.sale_helpers import admin, auth, buy, new_customer, new_event

pytestmark = pytest.mark.concurrency

SCANS = 50


async def scan_in_parallel(res: Resources, base_url: str) -> tuple[Counter[str], str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        event_id = await new_event(res)
        buyer = await new_customer(res)
        [purchase] = await buy(api, event_id, buyer)
        code = (await api.get(f"/api/tickets/{purchase['id']}", headers=auth(buyer))).json()["code"]
        tokens = []
        for door in range(5):
            r = await api.post(
                f"/api/events/{event_id}/door-tokens", json={"door": f"D{door}"}, headers=admin(res)
            )
            tokens.append(r.json()["token"])
    gate = asyncio.Event()

    async def scan(i: int) -> str:
        # One client (connection) per door scan, as separate devices would.
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as door:
            await gate.wait()
            r = await door.post(
                f"/api/events/{event_id}/checkins",
                json={"code": code},
                headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            )
            assert r.status_code == 200, r.text
            result: str = r.json()["result"]
            return result

    tasks = [asyncio.create_task(scan(i)) for i in range(SCANS)]
    await asyncio.sleep(0.2)
    gate.set()
    results = Counter(await asyncio.gather(*tasks))
    return results, purchase["id"]


async def test_fifty_parallel_scans_admit_once(res: Resources, live_server: str) -> None:
    results, purchase_id = await scan_in_parallel(res, live_server)
    assert results == Counter({"admitted": 1, "already_checked_in": SCANS - 1})
    row = await res.pool.fetchrow(
        "SELECT checked_in_at, checked_in_door FROM purchases WHERE id = $1", purchase_id
    )
    assert row["checked_in_at"] is not None and row["checked_in_door"].startswith("D")


async def test_control_without_the_guard_many_are_admitted(
    res: Resources, live_server: str, without_guard: Callable[..., None]
) -> None:
    without_guard("check_in_once")
    results, _ = await scan_in_parallel(res, live_server)
    assert results["admitted"] > 1

"""20 refunds of one purchase at once, through a real server: one provider refund, one
ticket released, one allowance given back. The control drops the claim's guard."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.resources import Resources
from tests.integration.reservations.sale_helpers import (
    admin,
    buy,
    charge_of,
    new_customer,
    new_event,
    ticket_counts,
)

pytestmark = pytest.mark.concurrency

REFUNDS = 20


async def refund_in_parallel(res: Resources, base_url: str) -> tuple[Counter[int | str], dict[str, Any], Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        event_id = await new_event(res, capacity=3, price_cents=4000)
        buyer = await new_customer(res)
        [purchase] = await buy(api, event_id, buyer)
    gate = asyncio.Event()

    async def refund() -> int | str:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as organizer:
            await gate.wait()
            r = await organizer.post(f"/api/tickets/{purchase['id']}/refund", headers=admin(res))
            return r.status_code if r.status_code == 200 else r.json()["error"]

    tasks = [asyncio.create_task(refund()) for _ in range(REFUNDS)]
    await asyncio.sleep(0.2)
    gate.set()
    statuses = Counter(await asyncio.gather(*tasks))
    return statuses, purchase, (event_id, buyer)


async def test_twenty_parallel_refunds_refund_once(res: Resources, live_server: str) -> None:
    statuses, purchase, (event_id, buyer) = await refund_in_parallel(res, live_server)
    assert statuses[200] >= 1 and set(statuses) <= {200, "refund_in_progress"}, statuses
    charge = await charge_of(res, purchase["id"])
    assert charge["refunds"] == 1 and charge["refunded_cents"] == 4000
    assert await ticket_counts(res, event_id) == {"AVAILABLE": 3}
    taken = await res.pool.fetchval(
        "SELECT taken FROM allowances WHERE customer_id = $1 AND event_id = $2", buyer, event_id
    )
    assert taken == 0
    refunded = await res.pool.fetch("SELECT refunded_at FROM purchases WHERE event_id = $1", event_id)
    assert len(refunded) == 1 and refunded[0]["refunded_at"] is not None


async def test_control_without_the_claim_every_caller_asks_the_provider(
    res: Resources, live_server: str, without_guard: Callable[..., None]
) -> None:
    """Without the claim (and its provider key), the callers all reach the provider: only
    its own balance check stops a second refund, and they get 502s for it."""
    without_guard("refund_claim_once")
    statuses, _, _ = await refund_in_parallel(res, live_server)
    assert statuses["payment_unavailable"] > 0, statuses

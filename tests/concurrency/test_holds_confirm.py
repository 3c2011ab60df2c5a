"""Confirm racing expiry: each hold ends exactly once, keeps at most one charge (net of
refunds), and is never booked once expired. A confirm charges outside any transaction, so
one that reserved just before `expires_at` and settles after it loses to expiry and its
charge is refunded."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.auth import issue_customer_token
from core.resources import Resources
from payments_stub.app import create_app as create_payments_app
from payments_stub.service import StubConfig
from reservations.holds import service as holds_service
from reservations.holds.confirm import payment_description
from tests.factories import make_customers, make_event

pytestmark = pytest.mark.concurrency

HOLDS = 40


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


@pytest.fixture
async def slow_provider(res: Resources, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """A provider with some latency keeps each confirm between its reserve and settle a while."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_payments_app(StubConfig(latency_ms=30))),
        base_url="http://payments",
    ) as provider:
        monkeypatch.setattr(res, "http", provider)
        yield provider


async def test_confirm_racing_expiry(
    client: httpx.AsyncClient, res: Resources, worker: Any, slow_provider: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=2 * HOLDS, max_per_customer=2)
        customers = await make_customers(conn, HOLDS)
    racing, keeper = {}, {}
    for c in customers:
        r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(c))
        racing[c] = r.json()["id"]
        # A second, long hold per customer: a double release of the racing hold's
        # allowance would show in the customer's count.
        r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(c))
        keeper[c] = r.json()["id"]
    # Every racing hold now expires 0.6 s from now.
    expires_epoch = await res.pool.fetchval(
        """UPDATE holds SET expires_at = now() + interval '600 ms' WHERE id = ANY($1::uuid[])
           RETURNING extract(epoch FROM expires_at)::float8""",
        [uuid.UUID(h) for h in racing.values()],
    )
    loop = asyncio.get_running_loop()
    start_at = loop.time() + (expires_epoch - time.time())  # expires_at on the loop's clock
    rng = random.Random(20)

    async def confirm_at(customer_id: uuid.UUID, offset: float) -> httpx.Response:
        await asyncio.sleep(max(0.0, start_at + offset - loop.time()))
        return await client.post(
            f"/api/holds/{racing[customer_id]}/confirm",
            json={"payment_method": "pm_card_visa"},
            headers={**auth(customer_id), "Idempotency-Key": "race"},
        )

    async def expire_at(hold_id: str, offset: float) -> bool:
        await asyncio.sleep(max(0.0, start_at + offset - loop.time()))
        async with res.pool.acquire() as conn:
            return await holds_service.expire_hold(conn, res.redis, hold_id=uuid.UUID(hold_id))

    async def sweep_at(offset: float) -> int:
        await asyncio.sleep(max(0.0, start_at + offset - loop.time()))
        async with res.pool.acquire() as conn:
            return await holds_service.expire_holds(conn, res.redis)

    # Confirms spread from 0.45 s before to 0.35 s after expires_at; expiry jobs and
    # sweeps right at it.
    offsets = [-0.45 + 0.8 * i / (HOLDS - 1) for i in range(HOLDS)]
    rng.shuffle(offsets)
    tasks: list[Any] = [confirm_at(c, off) for c, off in zip(customers, offsets, strict=True)]
    tasks += [expire_at(h, rng.uniform(0.0, 0.05)) for h in racing.values()]
    tasks += [sweep_at(t) for t in (0.0, 0.01, 0.03)]
    results = await asyncio.gather(*tasks)
    confirms: list[httpx.Response] = results[:HOLDS]

    codes = Counter(r.status_code for r in confirms)
    assert set(codes) <= {200, 410}, [r.text for r in confirms if r.status_code not in (200, 410)]
    assert codes[200] >= 1 and codes[410] >= 1, codes  # both sides of the race happened
    print(f"confirm racing expiry: {dict(codes)}")

    refunded = 0
    for customer_id, response in zip(customers, confirms, strict=True):
        hold_id = uuid.UUID(racing[customer_id])
        row = await res.pool.fetchrow("SELECT status, payment_id FROM holds WHERE id = $1", hold_id)
        ticket = await res.pool.fetchrow(
            "SELECT t.status FROM tickets t JOIN purchases p ON p.ticket_id = t.id WHERE p.hold_id = $1",
            hold_id,
        )
        charges = (
            await slow_provider.get("/v1/charges", params={"description": payment_description(hold_id)})
        ).json()["charges"]
        purchases = await res.pool.fetchval("SELECT count(*) FROM purchases WHERE hold_id = $1", hold_id)
        taken = await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id)
        if response.status_code == 200:
            assert row["status"] == "confirmed"
            assert purchases == 1 and ticket["status"] == "BOOKED"
            assert [(c["id"], c["status"]) for c in charges] == [(row["payment_id"], "succeeded")]
            assert taken == 2  # the bought ticket and the keeper hold
        else:
            assert row["status"] == "expired"
            assert purchases == 0 and ticket is None
            # A confirm that lost charged nothing, or (it reserved before expires_at and
            # settled after) its one charge is refunded: nothing captured either way.
            assert len(charges) <= 1 and all(c["status"] == "refunded" for c in charges), charges
            refunded += len(charges)
            assert taken == 1  # only the keeper hold: released exactly once
    print(f"expired holds whose charge was refunded: {refunded}")
    # Expired tickets are on sale again; keeper holds are untouched.
    counts = dict(
        await res.pool.fetch(
            "SELECT status, count(*) FROM tickets WHERE event_id = $1 GROUP BY status", event_id
        )
    )
    assert counts.get("BOOKED", 0) == codes[200]
    assert counts.get("IN_PROGRESS", 0) == HOLDS
    assert counts.get("AVAILABLE", 0) == codes[410]
    assert (
        await res.pool.fetchval(
            "SELECT count(*) FROM holds WHERE id = ANY($1::uuid[]) AND status = 'active'",
            [uuid.UUID(h) for h in keeper.values()],
        )
        == HOLDS
    )

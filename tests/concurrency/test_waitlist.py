"""Races on the waitlist: returned tickets while strangers hammer the event, and offer
rounds running side by side.

Checks come straight from PostgreSQL. Each control runs the same race with the real
code's guard switched off (`without_guard`) and shows the checks catch it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.auth import issue_customer_token
from core.resources import Resources
from reservations.waitlist import offers
from tests.factories import make_customers, make_event, stock_counts

pytestmark = pytest.mark.concurrency

CAPACITY = 20
RETURNED = 10
STRANGERS = 300
ROUNDS = 40


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def admin(res: Resources) -> dict[str, str]:
    return {"Authorization": f"Bearer {res.settings.admin_token}"}


async def sold_out_with_waitlist(client: httpx.AsyncClient, res: Resources, *, waiting: int) -> Any:
    """An event of CAPACITY tickets, each held by its own buyer, and `waiting` customers on
    its waitlist in a known order. Returns (event, hold ids, waitlisted customers in order)."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=CAPACITY, hold_ttl_s=600)
        holders = await make_customers(conn, CAPACITY)
        queued = await make_customers(conn, waiting)
    holds = []
    for h in holders:
        r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(h))
        assert r.status_code == 201
        holds.append(r.json()["id"])
    for c in queued:
        r = await client.post(f"/api/events/{event_id}/waitlist", json={}, headers=auth(c))
        assert r.status_code == 201, r.text
    return event_id, holds, queued


async def one_round(res: Resources, event_id: uuid.UUID) -> offers.OfferRound:
    async with res.pool.acquire() as conn:
        return await offers.offer_returned_tickets(conn, res.redis, event_id=event_id)


async def return_while_strangers_race(
    client: httpx.AsyncClient, res: Resources
) -> tuple[uuid.UUID, list[uuid.UUID], Counter[int]]:
    """RETURNED holds are cancelled while STRANGERS customers (not on the waitlist) try to
    hold and offer rounds run; then rounds run until nothing is left to offer."""
    event_id, holds, queued = await sold_out_with_waitlist(client, res, waiting=RETURNED + 5)
    async with res.pool.acquire() as conn:
        strangers = await make_customers(conn, STRANGERS)

    async def stranger(c: uuid.UUID) -> int:
        await asyncio.sleep(0.001 * (hash(c) % 50))
        r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(c))
        return r.status_code

    async def cancel(hold_id: str) -> int:
        return (await client.delete(f"/api/holds/{hold_id}", headers=admin(res))).status_code

    async def rounds() -> None:
        for _ in range(5):
            await one_round(res, event_id)
            await asyncio.sleep(0.01)

    answers = await asyncio.gather(
        *(stranger(c) for c in strangers),
        *(cancel(h) for h in holds[:RETURNED]),
        rounds(),
        rounds(),
    )
    for _ in range(3):
        await one_round(res, event_id)
    codes = Counter(a for a in answers[:STRANGERS] if isinstance(a, int))
    assert all(a == 204 for a in answers[STRANGERS : STRANGERS + RETURNED])
    return event_id, queued, codes


async def test_returned_tickets_reach_only_the_waitlist_in_order(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id, queued, codes = await return_while_strangers_race(client, res)
    assert codes == Counter({409: STRANGERS})  # no stranger took a returned ticket
    rows = await res.pool.fetch(
        """SELECT w.customer_id, w.status, w.offered_quantity,
                  (SELECT count(*) FROM tickets t WHERE t.offer_id = w.id) AS pinned
           FROM waitlist_entries w WHERE w.event_id = $1 ORDER BY w.seq""",
        event_id,
    )
    assert [r["customer_id"] for r in rows] == queued
    # The first RETURNED in line are offered one ticket each, pinned to them alone; the rest wait.
    assert [r["status"] for r in rows] == ["offered"] * RETURNED + ["waiting"] * 5
    assert all(r["pinned"] == r["offered_quantity"] == 1 for r in rows[:RETURNED])
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert (counts["IN_PROGRESS"], counts["AVAILABLE"], counts["BOOKED"]) == (
        CAPACITY - RETURNED,
        RETURNED,
        0,
    )
    assert (
        await res.pool.fetchval(
            "SELECT count(DISTINCT offer_id) FROM tickets WHERE event_id = $1 AND offer_id IS NOT NULL",
            event_id,
        )
        == RETURNED
    )

    pinned_to = dict(
        await res.pool.fetch(
            "SELECT w.customer_id, t.id FROM tickets t JOIN waitlist_entries w ON w.id = t.offer_id"
            " WHERE t.event_id = $1",
            event_id,
        )
    )
    assert set(pinned_to) == set(queued[:RETURNED])

    # Each called buyer bursts 5 holds with their offer; each gets exactly their ticket.
    async def called(customer_id: uuid.UUID) -> list[int]:
        r = await client.get(f"/api/events/{event_id}/waitlist/me", headers=auth(customer_id))
        headers = {**auth(customer_id), "Admission-Token": r.json()["offer_token"]}
        burst = await asyncio.gather(
            *(
                client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=headers)
                for _ in range(5)
            )
        )
        return [b.status_code for b in burst]

    bursts = await asyncio.gather(*(called(c) for c in queued[:RETURNED]))
    assert all(sorted(b) == [201, 409, 409, 409, 409] for b in bursts), bursts
    held = dict(
        await res.pool.fetch(
            "SELECT h.customer_id, t.id FROM tickets t JOIN holds h ON h.id = t.hold_id"
            " WHERE t.event_id = $1 AND h.customer_id = ANY($2::uuid[])",
            event_id,
            queued[:RETURNED],
        )
    )
    assert held == pinned_to  # each holds the very ticket pinned to their offer
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert (counts["IN_PROGRESS"], counts["AVAILABLE"]) == (CAPACITY, 0)


async def test_control_without_the_kept_guard_strangers_take_returned_tickets(
    client: httpx.AsyncClient, res: Resources, without_guard: Callable[..., None]
) -> None:
    without_guard("skip_waitlist_kept")
    _, _, codes = await return_while_strangers_race(client, res)
    assert codes[201] > 0


async def parallel_rounds(client: httpx.AsyncClient, res: Resources) -> uuid.UUID:
    """RETURNED tickets come back with RETURNED + 10 waiting; 16 rounds run at once."""
    event_id, holds, _ = await sold_out_with_waitlist(client, res, waiting=RETURNED + 10)
    for h in holds[:RETURNED]:
        assert (await client.delete(f"/api/holds/{h}", headers=admin(res))).status_code == 204
    await asyncio.gather(*(one_round(res, event_id) for _ in range(ROUNDS)))
    return event_id


async def test_parallel_rounds_offer_each_returned_ticket_once(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await parallel_rounds(client, res)
    statuses = [
        r["status"]
        for r in await res.pool.fetch(
            "SELECT status FROM waitlist_entries WHERE event_id = $1 ORDER BY seq", event_id
        )
    ]
    assert statuses == ["offered"] * RETURNED + ["waiting"] * 10
    per_offer = await res.pool.fetch(
        "SELECT offer_id, count(*) AS n FROM tickets WHERE event_id = $1 AND offer_id IS NOT NULL GROUP BY 1",
        event_id,
    )
    assert len(per_offer) == RETURNED and all(r["n"] == 1 for r in per_offer)
    assert await offer_mails(res) == RETURNED  # each called once


async def offer_mails(res: Resources) -> int:
    """The "your turn from the waitlist" emails queued (no worker sends them here)."""
    jobs = await res.redis.queued_jobs()
    return sum(1 for j in jobs if j.function == "mail.send" and j.args[0]["kind"] == "waitlist_offer")


async def test_control_unserialised_rounds_offer_a_ticket_twice(
    client: httpx.AsyncClient, res: Resources, without_guard: Callable[..., None]
) -> None:
    without_guard("rounds_serialised")
    await parallel_rounds(client, res)
    assert await offer_mails(res) > RETURNED  # a ticket offered (its buyer called) twice

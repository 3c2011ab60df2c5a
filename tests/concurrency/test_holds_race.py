"""Races on hold creation: the last tickets, one customer's burst, overlapping seats.

Each race is followed by checks straight from PostgreSQL. Control tests run the same race
with the protection removed and show that those checks do catch it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from core.auth import issue_customer_token
from core.resources import Resources
from tests.factories import make_customer, make_customers, make_event, stock_counts

pytestmark = pytest.mark.concurrency


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def outcome(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, "" if r.status_code == 201 else r.json().get("error", "")


async def book_directly(res: Resources, event_id: uuid.UUID, n: int) -> None:
    async with res.pool.acquire() as conn:
        owner = await make_customer(conn)
        await conn.execute(
            """UPDATE tickets SET status = 'BOOKED', customer_id = $2
               WHERE id IN (SELECT id FROM tickets WHERE event_id = $1 LIMIT $3)""",
            event_id,
            owner,
            n,
        )


# ---------------------------------------------------------------------------- the last tickets


async def test_400_customers_race_for_the_last_50(client: httpx.AsyncClient, res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=100)
        customers = await make_customers(conn, 400)
    await book_directly(res, event_id, 50)
    answers = await asyncio.gather(
        *(
            client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(c))
            for c in customers
        )
    )
    outcomes = Counter(outcome(r) for r in answers)
    assert outcomes == Counter({(201, ""): 50, (409, "sold_out"): 350})
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        assert (counts["BOOKED"], counts["IN_PROGRESS"], counts["AVAILABLE"]) == (50, 50, 0)
        per_hold = await conn.fetch(
            """SELECT h.id, h.customer_id, h.quantity, count(t.id) AS tickets,
                      bool_and(t.customer_id = h.customer_id) AS same_owner
               FROM holds h LEFT JOIN tickets t ON t.hold_id = h.id
               GROUP BY h.id"""
        )
        assert len(per_hold) == 50
        assert all(r["tickets"] == r["quantity"] == 1 and r["same_owner"] for r in per_hold)
        assert len({r["customer_id"] for r in per_hold}) == 50
        # The ids the API answered are exactly the tickets held in the database.
        answered = [t["id"] for r in answers if r.status_code == 201 for t in r.json()["tickets"]]
        assert len(answered) == len(set(answered)) == 50
        held = await conn.fetch("SELECT id FROM tickets WHERE status = 'IN_PROGRESS'")
        assert {str(r["id"]) for r in held} == set(answered)
        assert await conn.fetchval("SELECT sum(taken) FROM allowances") == 50


async def test_control_unguarded_claims_oversell(res: Resources) -> None:
    """Read-then-write without SKIP LOCKED or a status guard: more winners than tickets."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=10)
        customers = await make_customers(conn, 100)

    async def naive_claim(customer_id: uuid.UUID) -> bool:
        async with res.pool.acquire() as conn:
            ticket = await conn.fetchval(
                "SELECT id FROM tickets WHERE event_id = $1 AND status = 'AVAILABLE' LIMIT 1", event_id
            )
            if ticket is None:
                return False
            await asyncio.sleep(0.005)
            await conn.execute(
                "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE id = $1", ticket, customer_id
            )
            return True

    winners = sum(await asyncio.gather(*(naive_claim(c) for c in customers)))
    async with res.pool.acquire() as conn:
        booked = (await stock_counts(conn, event_id))["BOOKED"]
    assert booked <= 10
    assert winners > booked  # the accounting check above would have failed


# ---------------------------------------------------------------------------- one customer's burst


async def test_one_customer_fires_40_holds(client: httpx.AsyncClient, res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=100, max_per_customer=1)
        customer_id = await make_customer(conn)
    answers = await asyncio.gather(
        *(
            client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(customer_id))
            for _ in range(40)
        )
    )
    assert Counter(outcome(r) for r in answers) == Counter({(201, ""): 1, (409, "limit_reached"): 39})
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM holds WHERE customer_id = $1", customer_id) == 1
        assert (await stock_counts(conn, event_id))["IN_PROGRESS"] == 1
        assert await conn.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 1


async def test_control_count_then_claim_exceeds_the_limit(res: Resources) -> None:
    """Checking the limit by counting owned tickets, without the allowance row: too many."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=100)
        customer_id = await make_customer(conn)

    async def naive(_: int) -> None:
        async with res.pool.acquire() as conn:
            owned = await conn.fetchval(
                "SELECT count(*) FROM tickets WHERE event_id = $1 AND customer_id = $2", event_id, customer_id
            )
            if owned >= 1:
                return
            await asyncio.sleep(0.005)
            await conn.execute(
                """UPDATE tickets SET status = 'BOOKED', customer_id = $2
                   WHERE id = (SELECT id FROM tickets WHERE event_id = $1 AND status = 'AVAILABLE'
                               LIMIT 1 FOR UPDATE SKIP LOCKED)""",
                event_id,
                customer_id,
            )

    await asyncio.gather(*(naive(i) for i in range(40)))
    async with res.pool.acquire() as conn:
        owned = await conn.fetchval("SELECT count(*) FROM tickets WHERE customer_id = $1", customer_id)
    assert owned > 1


# ---------------------------------------------------------------------------- overlapping seats


async def test_overlapping_seats_in_opposite_orders(client: httpx.AsyncClient, res: Resources) -> None:
    rounds, waves = 15, 4
    async with res.pool.acquire() as conn:
        event_id = await make_event(
            conn,
            sections=[{"name": "A", "price_cents": 1000, "rows": rounds, "seats_per_row": 4}],
            max_per_customer=4,
        )
        customers = await make_customers(conn, 2 * rounds)
        seats = await conn.fetch(
            "SELECT id, row_label FROM tickets WHERE event_id = $1 ORDER BY row_label, seat_number", event_id
        )
    rows = [[str(s["id"]) for s in seats[i * 4 : i * 4 + 4]] for i in range(rounds)]

    async def take(customer_id: uuid.UUID, seat_ids: list[str]) -> httpx.Response:
        return await client.post(
            f"/api/events/{event_id}/holds", json={"seat_ids": seat_ids}, headers=auth(customer_id)
        )

    for _ in range(waves):
        requests: list[Any] = []
        for i, row in enumerate(rows):
            a, b = customers[2 * i], customers[2 * i + 1]
            requests.append(take(a, [row[0], row[1], row[2]]))
            requests.append(take(b, [row[3], row[2], row[1]]))  # overlap on 2 and 1, reversed
        answers = await asyncio.gather(*requests)
        outcomes = [outcome(r) for r in answers]
        assert set(outcomes) <= {(201, ""), (409, "seat_taken")}, outcomes
        for i in range(rounds):
            pair = outcomes[2 * i : 2 * i + 2]
            assert sorted(pair) == [(201, ""), (409, "seat_taken")], pair
        async with res.pool.acquire() as conn:
            owners = await conn.fetch(
                """SELECT t.id, h.customer_id, t.customer_id AS ticket_customer
                   FROM tickets t JOIN holds h ON h.id = t.hold_id
                   WHERE t.event_id = $1 AND h.status = 'active'""",
                event_id,
            )
            assert len(owners) == 3 * rounds
            assert all(r["customer_id"] == r["ticket_customer"] for r in owners)
            # Back on sale for the next wave.
            for r in answers:
                if r.status_code == 201:
                    hold = r.json()
                    d = await client.delete(
                        f"/api/holds/{hold['id']}", headers=auth(uuid.UUID(hold["customer_id"]))
                    )
                    assert d.status_code == 204
            assert (await stock_counts(conn, event_id))["AVAILABLE"] == 4 * rounds


async def test_control_locking_in_request_order_deadlocks(res: Resources) -> None:
    """Two transactions locking the same two seats in opposite orders: PostgreSQL aborts one
    with a deadlock. Sorting the ids (as claim_seats does) makes the second simply wait."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(
            conn, sections=[{"name": "A", "price_cents": 1, "rows": 1, "seats_per_row": 2}]
        )
        s1, s2 = [r["id"] for r in await conn.fetch("SELECT id FROM tickets WHERE event_id = $1", event_id)]

    async def locker(first: uuid.UUID, second: uuid.UUID, ready: asyncio.Event, go: asyncio.Event) -> str:
        async with res.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", first)
            ready.set()
            await go.wait()
            try:
                await conn.execute("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", second)
            except asyncpg.DeadlockDetectedError:
                return "deadlock"
            return "ok"

    async def race(order_a: tuple[uuid.UUID, uuid.UUID], order_b: tuple[uuid.UUID, uuid.UUID]) -> list[str]:
        ready_a, ready_b, go = asyncio.Event(), asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(locker(*order_a, ready_a, go))
        await ready_a.wait()
        b = asyncio.create_task(locker(*order_b, ready_b, go))
        # In opposite order b holds its first lock now; in sorted order b waits on it.
        await asyncio.wait([asyncio.ensure_future(ready_b.wait())], timeout=0.3)
        go.set()
        return sorted(await asyncio.gather(a, b))

    assert await race((s1, s2), (s2, s1)) == ["deadlock", "ok"]
    low, high = sorted([s1, s2])
    ordered = (low, high)
    assert await race(ordered, ordered) == ["ok", "ok"]

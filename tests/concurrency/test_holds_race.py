"""Races on hold creation: the last tickets, one customer's burst, overlapping seats.

Each race is followed by checks straight from PostgreSQL. Control tests run the same race
through the same route with the real code's guard switched off (`without_guard`) and show
that those checks do catch it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable
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


async def race_for_the_last(
    client: httpx.AsyncClient, res: Resources, *, left: int, customers: int
) -> tuple[uuid.UUID, list[httpx.Response]]:
    """`customers` customers, one ticket each, for the last `left` of 100."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=100)
        racers = await make_customers(conn, customers)
    await book_directly(res, event_id, 100 - left)
    answers = await asyncio.gather(
        *(client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(c)) for c in racers)
    )
    return event_id, list(answers)


async def test_400_customers_race_for_the_last_50(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, answers = await race_for_the_last(client, res, left=50, customers=400)
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


async def test_50_customers_for_the_last_50_all_get_one(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, answers = await race_for_the_last(client, res, left=50, customers=50)
    assert [outcome(r) for r in answers] == [(201, "")] * 50
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert (counts["IN_PROGRESS"], counts["AVAILABLE"]) == (50, 0)


async def test_control_without_skip_locked_customers_are_turned_away_while_tickets_are_left(
    client: httpx.AsyncClient, res: Resources, without_guard: Callable[..., None]
) -> None:
    """The race above, the claim without FOR UPDATE SKIP LOCKED: customers read the same
    free ticket; the status guard refuses all but one of each collision, so "sold out"
    is answered while tickets are left (nothing is held twice)."""
    without_guard("claim_skip_locked")
    event_id, answers = await race_for_the_last(client, res, left=50, customers=50)
    outcomes = Counter(outcome(r) for r in answers)
    assert set(outcomes) == {(201, ""), (409, "sold_out")}
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert counts["IN_PROGRESS"] == outcomes[(201, "")] < 50
    assert counts["AVAILABLE"] == outcomes[(409, "sold_out")] > 0


async def test_control_unguarded_claims_oversell(
    client: httpx.AsyncClient, res: Resources, without_guard: Callable[..., None]
) -> None:
    """The 400 customers' race, read-then-write without SKIP LOCKED or the status guard:
    more holds than tickets, holds left without their ticket."""
    without_guard("claim_skip_locked", "book_only_available")
    event_id, answers = await race_for_the_last(client, res, left=50, customers=400)
    winners = sum(r.status_code == 201 for r in answers)
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        holds = await conn.fetchval("SELECT count(*) FROM holds WHERE event_id = $1", event_id)
        ticketless = await conn.fetchval(
            "SELECT count(*) FROM holds h WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.hold_id = h.id)"
        )
    assert holds == winners > counts["IN_PROGRESS"]  # the accounting check above would have failed
    assert ticketless == holds - counts["IN_PROGRESS"] > 0


# ---------------------------------------------------------------------------- one customer's burst


async def one_customer_fires_40(
    client: httpx.AsyncClient, res: Resources
) -> tuple[uuid.UUID, uuid.UUID, list[httpx.Response]]:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=100, max_per_customer=1)
        customer_id = await make_customer(conn)
    answers = await asyncio.gather(
        *(
            client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(customer_id))
            for _ in range(40)
        )
    )
    return event_id, customer_id, list(answers)


async def test_one_customer_fires_40_holds(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id, answers = await one_customer_fires_40(client, res)
    assert Counter(outcome(r) for r in answers) == Counter({(201, ""): 1, (409, "limit_reached"): 39})
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM holds WHERE customer_id = $1", customer_id) == 1
        assert (await stock_counts(conn, event_id))["IN_PROGRESS"] == 1
        assert await conn.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 1


async def test_control_check_then_claim_exceeds_the_limit(
    client: httpx.AsyncClient, res: Resources, without_guard: Callable[..., None]
) -> None:
    """The race above, the limit checked by reading the allowance and counted in a second
    statement: the requests all pass the check before any commits. Too many tickets."""
    without_guard("allowance_upsert")
    event_id, customer_id, answers = await one_customer_fires_40(client, res)
    held = sum(r.status_code == 201 for r in answers)
    async with res.pool.acquire() as conn:
        owned = await conn.fetchval("SELECT count(*) FROM tickets WHERE customer_id = $1", customer_id)
        taken = await conn.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id)
        assert (await stock_counts(conn, event_id))["IN_PROGRESS"] == held
    assert owned == taken == held > 1


# ---------------------------------------------------------------------------- overlapping seats


async def overlapping_seats_in_opposite_orders(
    client: httpx.AsyncClient, res: Resources
) -> list[list[tuple[int, str]]]:
    """Per wave, 15 pairs of customers ask for 3 seats of a row of 4, overlapping on 2 and
    in opposite orders; after each wave every hold is cancelled. The outcomes, per wave."""
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

    results = []
    for _ in range(waves):
        requests: list[Any] = []
        for i, row in enumerate(rows):
            a, b = customers[2 * i], customers[2 * i + 1]
            requests.append(take(a, [row[0], row[1], row[2]]))
            requests.append(take(b, [row[3], row[2], row[1]]))  # overlap on 2 and 1, reversed
        answers = await asyncio.gather(*requests)
        outcomes = [outcome(r) for r in answers]
        results.append(outcomes)
        async with res.pool.acquire() as conn:
            owners = await conn.fetch(
                """SELECT t.id, h.customer_id, t.customer_id AS ticket_customer
                   FROM tickets t JOIN holds h ON h.id = t.hold_id
                   WHERE t.event_id = $1 AND h.status = 'active'""",
                event_id,
            )
            assert len(owners) == 3 * sum(o == (201, "") for o in outcomes)
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
    return results


async def test_overlapping_seats_in_opposite_orders(client: httpx.AsyncClient, res: Resources) -> None:
    for outcomes in await overlapping_seats_in_opposite_orders(client, res):
        assert set(outcomes) <= {(201, ""), (409, "seat_taken")}, outcomes
        for i in range(len(outcomes) // 2):
            pair = outcomes[2 * i : 2 * i + 2]
            assert sorted(pair) == [(201, ""), (409, "seat_taken")], pair
        assert outcomes.count((201, "")) == 15


async def test_control_locking_in_request_order_deadlocks(
    client: httpx.AsyncClient,
    res: Resources,
    without_guard: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The race above, each request locking its seats one by one in the order it names
    them: PostgreSQL finds pairs locking in opposite orders deadlocked and aborts one
    (a 500), where sorting the ids makes the second simply wait."""
    without_guard("seats_in_id_order")
    with caplog.at_level(logging.ERROR, logger="crowdpass"):
        outcomes = [o for wave in await overlapping_seats_in_opposite_orders(client, res) for o in wave]
    failed = outcomes.count((500, "internal_error"))
    assert set(outcomes) <= {(201, ""), (409, "seat_taken"), (500, "internal_error")}, outcomes
    assert failed > 0
    raised = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert len(raised) == failed
    assert all(isinstance(e, asyncpg.DeadlockDetectedError) for e in raised), raised

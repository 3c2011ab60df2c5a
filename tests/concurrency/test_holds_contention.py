"""Many customers for few seats through POST /api/events/{id}/holds, checked from
PostgreSQL and by the invariant check: exactly as many holds as seats, no seat twice,
every loser a 409; duplicates under one Idempotency-Key make one hold."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter

import httpx
import pytest

from core.auth import issue_customer_token
from core.resources import Resources
from reservations.orders.reconcile import check_invariants
from tests.factories import make_customer, make_customers, make_event, stock_counts

pytestmark = pytest.mark.concurrency


def auth(customer_id: uuid.UUID, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}
    return {**headers, "Idempotency-Key": key} if key else headers


async def assert_consistent(res: Resources, event_id: uuid.UUID, winners: int, per_hold: int = 1) -> None:
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        holds = await conn.fetchval("SELECT count(*) FROM holds WHERE event_id = $1", event_id)
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT hold_id FROM tickets WHERE hold_id IS NOT NULL"
            " GROUP BY id, hold_id HAVING count(*) > 1) d"
        )
        check = await check_invariants(conn)
    assert holds == winners == counts["IN_PROGRESS"] // per_hold
    assert counts["IN_PROGRESS"] + counts["AVAILABLE"] + counts["BOOKED"] == counts["capacity"]
    assert twice == 0
    assert check.ok, check.violations


async def test_300_customers_for_12_seats_any(client: httpx.AsyncClient, res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=12)
        racers = await make_customers(conn, 300)
    answers = await asyncio.gather(
        *(client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(c)) for c in racers)
    )
    outcomes = Counter((r.status_code, r.json().get("error", "")) for r in answers)
    assert outcomes == Counter({(201, ""): 12, (409, "sold_out"): 288})
    await assert_consistent(res, event_id, 12)


async def test_300_customers_for_8_named_seats(client: httpx.AsyncClient, res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(
            conn, sections=[{"name": "A", "price_cents": 100, "rows": 1, "seats_per_row": 8}]
        )
        racers = await make_customers(conn, 300)
        seats = [
            str(r["id"]) for r in await conn.fetch("SELECT id FROM tickets WHERE event_id = $1", event_id)
        ]
    rng = random.Random(13)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/events/{event_id}/holds", json={"seat_ids": [rng.choice(seats)]}, headers=auth(c)
            )
            for c in racers
        )
    )
    outcomes = Counter((r.status_code, r.json().get("error", "")) for r in answers)
    assert outcomes[(201, "")] == len({r.json()["tickets"][0]["id"] for r in answers if r.status_code == 201})
    assert set(outcomes) <= {(201, ""), (409, "seat_taken")}
    held = await res.pool.fetchval(
        "SELECT count(*) FROM tickets WHERE event_id = $1 AND status = 'IN_PROGRESS'", event_id
    )
    assert outcomes[(201, "")] == held == 8  # 300 random picks of 8 seats: every seat chosen
    await assert_consistent(res, event_id, 8)


async def test_concurrent_duplicates_make_one_hold(client: httpx.AsyncClient, res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=10, max_per_customer=5)
        me = await make_customer(conn)
    answers = await asyncio.gather(
        *(
            client.post(f"/api/events/{event_id}/holds", json={"quantity": 2}, headers=auth(me, "same"))
            for _ in range(30)
        )
    )
    assert {r.status_code for r in answers} == {201}
    assert len({r.content for r in answers}) == 1
    assert await res.pool.fetchval("SELECT count(*) FROM holds") == 1
    await assert_consistent(res, event_id, 1, per_hold=2)


async def test_invariant_check_sees_a_hold_that_lost_its_tickets(
    client: httpx.AsyncClient, res: Resources
) -> None:
    """The control of the hold check above: a hold whose ticket went back on sale."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=3)
        me = await make_customer(conn)
    r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(me))
    assert r.status_code == 201
    await res.pool.execute(
        "UPDATE tickets SET status = 'AVAILABLE', hold_id = NULL, customer_id = NULL WHERE hold_id = $1",
        uuid.UUID(r.json()["id"]),
    )
    async with res.pool.acquire() as conn:
        check = await check_invariants(conn)
    assert not check.ok
    assert [v["check"] for v in check.violations] == ["held_tickets_match_holds"]
    assert check.violations[0]["hold_id"] == r.json()["id"] and check.violations[0]["held"] == 0

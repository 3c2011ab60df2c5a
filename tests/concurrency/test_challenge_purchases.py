"""Races on POST /compras: hundreds of buyers for the last tickets, one buyer firing many
requests at once. Each has a control: the same race with the real code's guard switched
off (`without_guard`), which the same checks catch."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from core.resources import Resources
from reservations.errors import SoldOut
from reservations.inventory import service as tickets
from tests.factories import make_customers, make_event, stock_counts

pytestmark = pytest.mark.concurrency


async def _buy(client: httpx.AsyncClient, cliente: uuid.UUID, evento: uuid.UUID) -> httpx.Response:
    return await client.post("/compras", json={"cliente_id": str(cliente), "evento_id": str(evento)})


async def _assert_nothing_sold_twice(conn: asyncpg.Connection, event_id: uuid.UUID) -> None:
    row = await conn.fetchrow(
        "SELECT count(*) AS purchases, count(DISTINCT ticket_id) AS tickets,"
        " count(DISTINCT customer_id) AS buyers FROM purchases WHERE event_id = $1",
        event_id,
    )
    assert row["purchases"] == row["tickets"] == row["buyers"]
    # Every booked ticket has exactly one purchase, by the customer the ticket names.
    mismatched = await conn.fetchval(
        "SELECT count(*) FROM tickets t LEFT JOIN purchases p ON p.ticket_id = t.id"
        " WHERE t.event_id = $1 AND t.status = 'BOOKED' AND p.customer_id IS DISTINCT FROM t.customer_id",
        event_id,
    )
    assert mismatched == 0


async def _400_buyers_for_the_last_50(
    res: Resources, client: httpx.AsyncClient
) -> tuple[uuid.UUID, list[uuid.UUID], list[httpx.Response]]:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, face="challenge", capacity=80, price_cents=5000)
        early = await make_customers(conn, 30, face="challenge")
        racers = await make_customers(conn, 400, face="challenge")
    for buyer in early:
        assert (await _buy(client, buyer, eid)).status_code == 201
    responses = await asyncio.gather(*(_buy(client, b, eid) for b in racers))
    return eid, racers, list(responses)


async def test_400_buyers_race_for_the_last_50_tickets(res: Resources, client: httpx.AsyncClient) -> None:
    eid, racers, responses = await _400_buyers_for_the_last_50(res, client)

    statuses = collections.Counter(r.status_code for r in responses)
    assert statuses == {201: 50, 422: 350}
    assert {r.json()["error"] for r in responses if r.status_code == 422} == {"sold_out"}
    winners = {uuid.UUID(r.json()["cliente_id"]) for r in responses if r.status_code == 201}
    assert len(winners) == 50
    async with res.pool.acquire() as conn:
        assert await stock_counts(conn, eid) == {
            "AVAILABLE": 0,
            "IN_PROGRESS": 0,
            "BOOKED": 80,
            "capacity": 80,
        }
        raced = await conn.fetch(
            "SELECT customer_id, ticket_id FROM purchases"
            " WHERE event_id = $1 AND customer_id = ANY($2::uuid[])",
            eid,
            racers,
        )
        assert len(raced) == 50
        assert {r["customer_id"] for r in raced} == winners
        assert len({r["ticket_id"] for r in raced}) == 50
        await _assert_nothing_sold_twice(conn, eid)
        # The losers' allowances rolled back with their transactions.
        assert (
            await conn.fetchval("SELECT coalesce(sum(taken), 0) FROM allowances WHERE event_id = $1", eid)
            == 80
        )
    evento = (await client.get(f"/eventos/{eid}")).json()
    assert (evento["ingressos_vendidos"], evento["ingressos_disponiveis"], evento["status"]) == (
        80,
        0,
        "esgotado",
    )


async def _50_buyers_for_the_last_50(
    res: Resources, client: httpx.AsyncClient
) -> tuple[uuid.UUID, list[httpx.Response]]:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, face="challenge", capacity=50)
        buyers = await make_customers(conn, 50, face="challenge")
    return eid, list(await asyncio.gather(*(_buy(client, b, eid) for b in buyers)))


async def test_50_buyers_for_the_last_50_tickets_all_get_one(
    res: Resources, client: httpx.AsyncClient
) -> None:
    eid, responses = await _50_buyers_for_the_last_50(res, client)
    assert [r.status_code for r in responses] == [201] * 50
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, eid)
        assert (counts["BOOKED"], counts["IN_PROGRESS"], counts["AVAILABLE"]) == (50, 0, 0)
        await _assert_nothing_sold_twice(conn, eid)


async def test_control_without_skip_locked_buyers_are_turned_away_while_tickets_are_left(
    res: Resources, client: httpx.AsyncClient, without_guard: Callable[..., None]
) -> None:
    """The race above, the claim without FOR UPDATE SKIP LOCKED: buyers read the same free
    row, and all but one of each collision are told "sold out" while tickets are left.
    The status guard still keeps any ticket from being sold twice."""
    without_guard("claim_skip_locked")
    eid, responses = await _50_buyers_for_the_last_50(res, client)

    statuses = collections.Counter(r.status_code for r in responses)
    assert set(statuses) == {201, 422}
    assert {r.json()["error"] for r in responses if r.status_code == 422} == {"sold_out"}
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, eid)
        assert counts["BOOKED"] == statuses[201] < 50
        assert counts["AVAILABLE"] == statuses[422] > 0
        await _assert_nothing_sold_twice(conn, eid)


async def _one_buyer_fires_40(
    res: Resources, client: httpx.AsyncClient
) -> tuple[uuid.UUID, uuid.UUID, list[httpx.Response]]:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, face="challenge", capacity=100)
        (buyer,) = await make_customers(conn, 1, face="challenge")
    responses = await asyncio.gather(*(_buy(client, buyer, eid) for _ in range(40)))
    return eid, buyer, list(responses)


async def test_one_buyer_firing_40_requests_gets_one_ticket(
    res: Resources, client: httpx.AsyncClient
) -> None:
    eid, buyer, responses = await _one_buyer_fires_40(res, client)

    assert collections.Counter(r.status_code for r in responses) == {201: 1, 409: 39}
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"limit_reached"}
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM purchases WHERE customer_id = $1", buyer) == 1
        assert await conn.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", buyer) == 1
        assert (await stock_counts(conn, eid))["BOOKED"] == 1
        await _assert_nothing_sold_twice(conn, eid)


async def test_control_without_the_allowance_upsert_one_buyer_gets_several_tickets(
    res: Resources, client: httpx.AsyncClient, without_guard: Callable[..., None]
) -> None:
    """The race above, the limit checked by reading the allowance and then counted in a
    second statement: the requests all pass the check before any commits."""
    without_guard("allowance_upsert")
    eid, buyer, responses = await _one_buyer_fires_40(res, client)

    bought = sum(r.status_code == 201 for r in responses)
    assert bought > 1
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM purchases WHERE customer_id = $1", buyer) == bought
        assert (await stock_counts(conn, eid))["BOOKED"] == bought


# --- the claim step by step: every buyer claims before anyone books -------------------------


async def _race(
    res: Resources, event_id: uuid.UUID, buyers: list[uuid.UUID]
) -> tuple[list[uuid.UUID], collections.Counter[str]]:
    """Every buyer claims and books as create_compra does (the real primitives), inside its
    own transaction; nobody books before all have claimed (a barrier), which makes the
    interleaving — and the outcome — deterministic."""
    barrier = asyncio.Barrier(len(buyers))
    claimed: list[uuid.UUID] = []
    outcomes: collections.Counter[str] = collections.Counter()

    async def one(buyer: uuid.UUID) -> None:
        async with res.pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                ticket = (await tickets.claim_any(conn, event_id=event_id, quantity=1))[0]
            except SoldOut:
                ticket = None
            await barrier.wait()
            if ticket is None:
                await tx.rollback()
                outcomes["sold_out"] += 1
                return
            claimed.append(ticket["id"])
            try:
                await tickets.mark_booked(conn, ticket_ids=[ticket["id"]], customer_id=buyer)
                await tickets.insert_purchases(
                    conn,
                    event_id=event_id,
                    customer_id=buyer,
                    tickets=[(ticket["id"], ticket["price_cents"], False)],
                )
            except SoldOut:
                await tx.rollback()
                outcomes["refused_by_status_guard"] += 1
            except asyncpg.UniqueViolationError:
                await tx.rollback()
                outcomes["refused_by_unique_ticket"] += 1
            else:
                await tx.commit()
                outcomes["bought"] += 1

    await asyncio.wait_for(asyncio.gather(*(one(b) for b in buyers)), timeout=30)
    return claimed, outcomes


async def test_control_the_real_claim_hands_out_distinct_tickets(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, face="challenge", capacity=5)
        buyers = await make_customers(conn, 20, face="challenge")
    claimed, outcomes = await _race(res, eid, buyers)
    assert len(claimed) == len(set(claimed)) == 5
    assert outcomes == {"bought": 5, "sold_out": 15}
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, eid))["BOOKED"] == 5
        await _assert_nothing_sold_twice(conn, eid)


async def test_control_without_the_lock_buyers_collide_and_sales_are_lost(
    res: Resources, without_guard: Callable[..., None]
) -> None:
    """Same harness, claim without FOR UPDATE SKIP LOCKED: all 20 buyers read the same
    ticket. The status guard keeps it from being sold twice, but 19 buyers are turned away
    while 4 tickets are still free — the race the lock prevents, made visible."""
    without_guard("claim_skip_locked")
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, face="challenge", capacity=5)
        buyers = await make_customers(conn, 20, face="challenge")
    claimed, outcomes = await _race(res, eid, buyers)
    assert len(claimed) == 20
    assert len(set(claimed)) == 1
    assert outcomes == {"bought": 1, "refused_by_status_guard": 19}
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, eid))["AVAILABLE"] == 4


async def test_control_without_lock_or_guard_only_the_unique_constraint_stops_double_sales(
    res: Resources, without_guard: Callable[..., None]
) -> None:
    """Claim without the lock and book without the status guard: 20 transactions each
    "book" the same ticket. Only `UNIQUE (ticket_id)` on purchases refuses the 19 double
    sales — the database's last word."""
    without_guard("claim_skip_locked", "book_only_available")
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, face="challenge", capacity=5)
        buyers = await make_customers(conn, 20, face="challenge")
    claimed, outcomes = await _race(res, eid, buyers)
    assert len(set(claimed)) == 1
    assert outcomes == {"bought": 1, "refused_by_unique_ticket": 19}
    async with res.pool.acquire() as conn:
        await _assert_nothing_sold_twice(conn, eid)

"""The event's live counters from a snapshot per stock version (inventory/stock.py
`get_stock`): PostgreSQL read once per version, never a snapshot older than a change the
reader has seen, and a ticket type's sale window turning on time with no change of stock."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from core.resources import Resources
from reservations import keys
from reservations.inventory import service as tickets
from reservations.inventory import stock
from tests.factories import make_customer, make_event

SECTIONS = [
    {"name": "Pista", "price_cents": 5000, "rows": 1, "seats_per_row": 6},
    {"name": "VIP", "price_cents": 9000, "rows": 1, "seats_per_row": 4},
]


@pytest.fixture
def pg_reads(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """Every read of the counters from PostgreSQL, by event."""
    reads: list[uuid.UUID] = []
    real = tickets.event_stock

    async def counted(conn: Any, *, event_id: uuid.UUID) -> list[asyncpg.Record]:
        reads.append(event_id)
        return await real(conn, event_id=event_id)

    monkeypatch.setattr(tickets, "event_stock", counted)
    return reads


async def sell_one(res: Resources, event_id: uuid.UUID, *, announce: bool = True) -> None:
    """A committed change of one ticket's state, then its hook, as every writer does
    (`announce=False`: the hook lost, as to a Redis fault)."""
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn)
        await conn.execute(
            "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE id = (SELECT id FROM tickets"
            " WHERE event_id = $1 AND status = 'AVAILABLE' ORDER BY id LIMIT 1)",
            event_id,
            buyer,
        )
    if announce:
        await stock.stock_changed(res.redis, event_id=event_id)


async def test_postgres_is_read_once_per_version(res: Resources, pg_reads: list[uuid.UUID]) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=10)
        first = await stock.get_stock(conn, res.redis, event_id=event_id)
    assert (first.available, len(pg_reads)) == (10, 1)
    again = await asyncio.gather(*(_read(res, event_id) for _ in range(20)))
    assert {s.available for s in again} == {10} and len(pg_reads) == 1
    # Time alone does not send a reader to PostgreSQL (the counters were a 1 s cache) ...
    await asyncio.sleep(1.3)
    assert (await _read(res, event_id)).available == 10 and len(pg_reads) == 1
    # ... a change does, once.
    await sell_one(res, event_id)
    after = await asyncio.gather(*(_read(res, event_id) for _ in range(5)))
    assert {(s.sold, s.available) for s in after} == {(1, 9)}
    assert 2 <= len(pg_reads) <= 6  # readers of the new version that started together may each read
    settled = len(pg_reads)
    await _read(res, event_id)
    assert len(pg_reads) == settled


async def test_a_read_that_raced_a_change_is_never_served_after_it(
    res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader reads the rows, a change commits and announces itself, then the reader files
    what it read: the next reader must not be given those older counters."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=10)
    read, go_on = asyncio.Event(), asyncio.Event()
    real = tickets.event_stock

    async def slow(conn: Any, *, event_id: uuid.UUID) -> list[asyncpg.Record]:
        rows = await real(conn, event_id=event_id)
        if not read.is_set():
            read.set()
            await go_on.wait()
        return rows

    monkeypatch.setattr(tickets, "event_stock", slow)
    racer = asyncio.create_task(_read(res, event_id))
    await read.wait()
    await sell_one(res, event_id)
    go_on.set()
    assert (await racer).sold == 0  # it answered what it read, and filed it
    assert await res.redis.get(keys.stock(event_id)) is not None
    assert (await _read(res, event_id)).sold == 1


async def test_a_sale_window_opening_turns_the_counters_on_time(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, sections=SECTIONS, max_per_customer=4)
        await conn.execute(
            "UPDATE sections SET sales_open_at = now() + interval '1.5 seconds'"
            " WHERE event_id = $1 AND name = 'VIP'",
            event_id,
        )
    before = await _read(res, event_id)
    assert {t.name: t.on_sale for t in before.types} == {"Pista": True, "VIP": False}
    assert before.selling_now() == (6, 0)
    assert 0 < await res.redis.pttl(keys.stock(event_id)) <= 1500
    await asyncio.sleep(1.7)  # no change of stock in between
    after = await _read(res, event_id)
    assert {t.name: t.on_sale for t in after.types} == {"Pista": True, "VIP": True}
    assert after.selling_now() == (10, 0)
    assert await res.redis.pttl(keys.stock(event_id)) > 10_000  # no window left to turn


async def test_the_last_counters_stand_in_while_postgres_is_busy(
    res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=10)
    await _read(res, event_id)
    await sell_one(res, event_id)

    async def busy(conn: Any, *, event_id: uuid.UUID) -> list[asyncpg.Record]:
        raise asyncpg.LockNotAvailableError("lock timeout")

    monkeypatch.setattr(tickets, "event_stock", busy)
    assert (await _read(res, event_id)).sold == 0  # the last counters read, while it is busy


async def test_a_change_whose_hook_was_lost_shows_within_the_snapshots_lifetime(
    res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stock, "SNAPSHOT_TTL_MS", 400)
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=10)
    assert (await _read(res, event_id)).sold == 0
    await sell_one(res, event_id, announce=False)  # committed, but no version moved
    assert (await _read(res, event_id)).sold == 0
    await asyncio.sleep(0.5)
    assert (await _read(res, event_id)).sold == 1


async def _read(res: Resources, event_id: uuid.UUID) -> stock.Stock:
    async with res.pool.acquire() as conn:
        return await stock.get_stock(conn, res.redis, event_id=event_id)

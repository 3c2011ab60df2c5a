"""Ticket primitives: the per-customer allowance, claiming, booking and releasing.

They run inside a transaction the calling service owns. Any-seat claims skip rows that
other transactions are claiming (`FOR UPDATE SKIP LOCKED`); named seats are locked in id
order. PostgreSQL constraints back every step: a ticket row has one status, and
`purchases.ticket_id` is unique.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from core.db import Connection, queries_beside, without_guard
from reservations.errors import LimitReached, SeatNotFound, SeatTaken, SoldOut

Q = queries_beside(__file__)

_CLAIM_ATTEMPTS = 4


@dataclasses.dataclass
class Guards:
    """The race guards of this module, all on in production. Only tests switch one off
    (`without_guard` in tests/concurrency/conftest.py), to show their race breaks without
    it; no setting, environment variable or request reaches them."""

    claim_skip_locked: bool = True  # claim_any: FOR UPDATE SKIP LOCKED
    book_only_available: bool = True  # mark_held, mark_booked: AND status = 'AVAILABLE'
    seats_in_id_order: bool = True  # claim_seats: one statement, rows locked in id order
    allowance_upsert: bool = True  # take_allowance: check and count in one conditional upsert
    skip_waitlist_kept: bool = True  # holds' hold_tickets: a kept ticket is its offer's only


GUARDS = Guards()


# The same statements with a guard taken out, for the switches above.
_CLAIM_ANY_UNLOCKED = without_guard(Q.claim_any, "FOR UPDATE SKIP LOCKED")
_MARK_HELD_ANY_STATUS = without_guard(Q.mark_held, " AND status = 'AVAILABLE'")
_MARK_BOOKED_ANY_STATUS = without_guard(Q.mark_booked, " AND status = 'AVAILABLE'")
_READ_ALLOWANCE = "SELECT taken FROM allowances WHERE customer_id = $1 AND event_id = $2"


async def set_lock_timeout(conn: Connection, ms: int, *, statement_ms: int | None = None) -> None:
    """Bound every lock wait of the current transaction (pretix-style), and with
    `statement_ms` each of its statements too."""
    if statement_ms is None:
        await conn.execute(Q.set_lock_timeout, f"{ms}ms")
    else:
        await conn.execute(Q.set_timeouts, f"{ms}ms", f"{statement_ms}ms")


async def take_allowance(
    conn: Connection, *, customer_id: UUID, event_id: UUID, quantity: int, limit: int
) -> int:
    """Count `quantity` tickets against the customer's per-event limit, or raise LimitReached.

    Concurrent calls for one customer serialise on the allowance row, so 50 simultaneous
    requests cannot all pass the check.
    """
    bound = limit
    if not GUARDS.allowance_upsert:
        # Check first, then count with no limit: concurrent calls all pass the check.
        before = await conn.fetchval(_READ_ALLOWANCE, customer_id, event_id) or 0
        bound = 2**31 - 1 if before + quantity <= limit else -1
    taken = await conn.fetchval(Q.take_allowance, customer_id, event_id, quantity, bound)
    if taken is None:
        raise LimitReached(f"At most {limit} ticket(s) per customer for this event.")
    return int(taken)


async def release_allowance(conn: Connection, *, customer_id: UUID, event_id: UUID, quantity: int) -> None:
    await conn.execute(Q.release_allowance, customer_id, event_id, quantity)


async def release_type_allowances(conn: Connection, *, hold_ids: Sequence[UUID]) -> None:
    """Give back the per-type allowances of ended holds (before `release_hold`)."""
    if hold_ids:
        await conn.execute(Q.release_type_allowances, list(hold_ids))


async def release_ticket_type_allowances(conn: Connection, *, ticket_ids: Sequence[UUID]) -> None:
    """Give back the per-type allowances of booked tickets (before `release_booked`)."""
    if ticket_ids:
        await conn.execute(Q.release_ticket_type_allowances, list(ticket_ids))


async def claim_up_to(
    conn: Connection, *, event_id: UUID, quantity: int, section: str | None = None
) -> list[asyncpg.Record]:
    """Lock up to `quantity` available tickets (fewer when fewer are left).

    When fewer rows are free than asked but others are only locked by transactions in
    flight (which may roll back), look again briefly before settling for fewer.
    """
    rows: list[asyncpg.Record] = []
    for attempt in range(_CLAIM_ATTEMPTS):
        claim = Q.claim_any if GUARDS.claim_skip_locked else _CLAIM_ANY_UNLOCKED
        rows = list(await conn.fetch(claim, event_id, quantity, section))
        if len(rows) == quantity:
            break
        available = await conn.fetchval(Q.count_available, event_id, section)
        if available <= len(rows) or attempt == _CLAIM_ATTEMPTS - 1:
            break
        await asyncio.sleep(0.01 * (attempt + 1))
    return rows


async def count_available(conn: Connection, *, event_id: UUID, section: str | None = None) -> int:
    """The event's AVAILABLE tickets (rows locked by claims in flight included)."""
    count: int = await conn.fetchval(Q.count_available, event_id, section)
    return count


async def claim_any(
    conn: Connection, *, event_id: UUID, quantity: int, section: str | None = None
) -> list[asyncpg.Record]:
    """Lock exactly `quantity` available tickets, or raise SoldOut."""
    rows = await claim_up_to(conn, event_id=event_id, quantity=quantity, section=section)
    if len(rows) < quantity:
        raise SoldOut()
    return rows


async def claim_seats(conn: Connection, *, event_id: UUID, seat_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Lock the named seats in id order; raise SeatNotFound or SeatTaken."""
    if GUARDS.seats_in_id_order:
        wanted = sorted(set(seat_ids))
        rows = await conn.fetch(Q.claim_seats, event_id, wanted)
    else:  # one seat at a time, in the order asked
        wanted = list(dict.fromkeys(seat_ids))
        rows = [r for s in wanted for r in await conn.fetch(Q.claim_seats, event_id, [s])]
    if len(rows) != len(wanted):
        found = {r["id"] for r in rows}
        missing = next(str(s) for s in wanted if s not in found)
        raise SeatNotFound(f"Seat {missing} does not belong to this event.", field="seat_ids")
    taken = [r for r in rows if r["status"] != "AVAILABLE"]
    if taken:
        raise SeatTaken(f"Seat {taken[0]['id']} is already held or sold.", field="seat_ids")
    return list(rows)


async def mark_held(
    conn: Connection, *, ticket_ids: Sequence[UUID], hold_id: UUID, customer_id: UUID
) -> None:
    mark = Q.mark_held if GUARDS.book_only_available else _MARK_HELD_ANY_STATUS
    result = await conn.execute(mark, list(ticket_ids), hold_id, customer_id)
    if result != f"UPDATE {len(ticket_ids)}":
        raise SoldOut()


async def mark_booked(conn: Connection, *, ticket_ids: Sequence[UUID], customer_id: UUID) -> None:
    mark = Q.mark_booked if GUARDS.book_only_available else _MARK_BOOKED_ANY_STATUS
    result = await conn.execute(mark, list(ticket_ids), customer_id)
    if result != f"UPDATE {len(ticket_ids)}":
        raise SoldOut()


async def book_hold(conn: Connection, *, hold_id: UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(Q.book_hold, hold_id))


async def release_hold(conn: Connection, *, hold_id: UUID) -> int:
    result = await conn.execute(Q.release_hold, hold_id)
    return int(result.split()[-1])


async def release_booked(conn: Connection, *, ticket_ids: Sequence[UUID]) -> int:
    """Put booked tickets back on sale (a refund); how many were released."""
    result = await conn.execute(Q.release_booked, list(ticket_ids))
    return int(result.split()[-1])


async def insert_purchases(
    conn: Connection,
    *,
    event_id: UUID,
    customer_id: UUID,
    tickets: Sequence[tuple[UUID, int, bool]],
    hold_id: UUID | None = None,
    order_id: UUID | None = None,
) -> list[asyncpg.Record]:
    """One purchase row per (ticket_id, price_cents, half_price)."""
    ids = [t[0] for t in tickets]
    prices = [t[1] for t in tickets]
    halves = [t[2] for t in tickets]
    return list(
        await conn.fetch(Q.insert_purchases, event_id, customer_id, hold_id, order_id, ids, prices, halves)
    )


async def event_stock(conn: Connection, *, event_id: UUID) -> list[asyncpg.Record]:
    """capacity, section, sold, held, available straight from the ticket rows, one row per
    ticket type (section); empty when there is no such event."""
    return list(await conn.fetch(Q.event_stock, event_id))

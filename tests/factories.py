"""Test data written straight to PostgreSQL, so tests of one area do not depend on another
area's endpoints. Production code never imports this."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from core.db import Connection


async def make_customer(
    conn: Connection, *, name: str | None = None, email: str | None = None, face: str = "product"
) -> uuid.UUID:
    """A customer of the product face (`face="challenge"`: a client of the challenge routes)."""
    cid = uuid.uuid4()
    await conn.execute(
        "INSERT INTO customers (id, name, email, face) VALUES ($1, $2, $3, $4)",
        cid,
        name or f"Buyer {str(cid)[:8]}",
        email or f"{cid}@example.com",
        face,
    )
    return cid


async def make_customers(conn: Connection, n: int, *, face: str = "product") -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    await conn.executemany(
        "INSERT INTO customers (id, name, email, face) VALUES ($1, $2, $3, $4)",
        [(i, f"Buyer {str(i)[:8]}", f"{i}@example.com", face) for i in ids],
    )
    return ids


async def make_event(
    conn: Connection,
    *,
    capacity: int = 100,
    price_cents: int = 5000,
    sections: list[dict[str, Any]] | None = None,
    max_per_customer: int = 1,
    hold_ttl_s: int = 300,
    half_price: bool = False,
    waiting_room: bool = False,
    sales_open_at: dt.datetime | None = None,
    admission_factor: float = 1.0,
    max_admit_per_s: int = 100,
    prequeue: str = "fifo",
    name: str = "Test event",
    face: str = "product",
) -> uuid.UUID:
    """A general-admission event of `capacity` tickets, or a seated one from `sections`:
    `[{"name": "A", "price_cents": 9000, "rows": 2, "seats_per_row": 5}, ...]`.
    `face="challenge"`: an event of the challenge routes."""
    eid = uuid.uuid4()
    seated = sections is not None
    if seated:
        capacity = sum(s["rows"] * s["seats_per_row"] for s in sections or [])
    await conn.execute(
        """INSERT INTO events (id, name, venue, starts_at, sales_open_at, price_cents, capacity, seated,
               max_per_customer, hold_ttl_s, half_price, waiting_room, face)
           VALUES ($1, $2, 'Test venue', now() + interval '30 days', $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        eid,
        name,
        sales_open_at,
        price_cents,
        capacity,
        seated,
        max_per_customer,
        hold_ttl_s,
        half_price,
        waiting_room,
        face,
    )
    if waiting_room:
        await conn.execute(
            """INSERT INTO waiting_rooms (event_id, admission_factor, max_admit_per_s, prequeue)
               VALUES ($1, $2, $3, $4)""",
            eid,
            admission_factor,
            max_admit_per_s,
            prequeue,
        )
    if not seated:
        await conn.execute(
            "INSERT INTO tickets (event_id, price_cents) SELECT $1, $2 FROM generate_series(1, $3)",
            eid,
            price_cents,
            capacity,
        )
        return eid
    for position, s in enumerate(sections or []):
        await conn.execute(
            "INSERT INTO sections (event_id, name, price_cents, capacity, position)"
            " VALUES ($1, $2, $3, $4, $5)",
            eid,
            s["name"],
            s["price_cents"],
            s["rows"] * s["seats_per_row"],
            position,
        )
        await conn.execute(
            """INSERT INTO tickets (event_id, section, row_label, seat_number, price_cents)
               SELECT $1, $2, chr(64 + r), n, $3
               FROM generate_series(1, $4) r, generate_series(1, $5) n""",
            eid,
            s["name"],
            s["price_cents"],
            s["rows"],
            s["seats_per_row"],
        )
    return eid


async def stock_counts(conn: Connection, event_id: uuid.UUID) -> dict[str, int]:
    """Ticket counts by status, plus capacity, straight from the rows."""
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM tickets WHERE event_id = $1 GROUP BY status", event_id
    )
    counts = {"AVAILABLE": 0, "IN_PROGRESS": 0, "BOOKED": 0} | {r["status"]: r["n"] for r in rows}
    counts["capacity"] = await conn.fetchval("SELECT capacity FROM events WHERE id = $1", event_id)
    return counts


async def hold_rows(
    conn: Connection, *, event_id: uuid.UUID, customer_id: uuid.UUID, ticket_ids: list[uuid.UUID]
) -> uuid.UUID:
    """A hold of these tickets written straight into the rows (no allowance, no Redis), for
    tests of what reads ticket states; returns the hold's id."""
    hold_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO holds (event_id, customer_id, quantity, total_cents, expires_at)"
        " VALUES ($1, $2, $3, 0, now() + interval '5 minutes') RETURNING id",
        event_id,
        customer_id,
        len(ticket_ids),
    )
    await conn.execute(
        "UPDATE tickets SET status = 'IN_PROGRESS', hold_id = $2, customer_id = $3"
        " WHERE id = ANY($1::uuid[])",
        ticket_ids,
        hold_id,
        customer_id,
    )
    return hold_id


async def book_ticket(conn: Connection, *, customer_id: uuid.UUID, event_id: uuid.UUID) -> uuid.UUID:
    """One ticket of the event booked for the customer, with its purchase (as the seed sells
    them, through the inventory primitives); returns the purchase id."""
    from reservations.inventory import service as tickets

    async with conn.transaction():
        (ticket,) = await tickets.claim_any(conn, event_id=event_id, quantity=1)
        await tickets.mark_booked(conn, ticket_ids=[ticket["id"]], customer_id=customer_id)
        (purchase,) = await tickets.insert_purchases(
            conn,
            event_id=event_id,
            customer_id=customer_id,
            tickets=[(ticket["id"], ticket["price_cents"], False)],
        )
    purchase_id: uuid.UUID = purchase["id"]
    return purchase_id

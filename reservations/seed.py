"""Seed data: the challenge's clients and events (API.md section 1) and two demo events.

Idempotent: every row has a fixed id and is written with ON CONFLICT DO NOTHING; an event's
tickets, sections and sales are written only in the run that created the event, all in
one transaction. Running it twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid

from core.db import Connection
from reservations.customers import service as customers
from reservations.events.schemas import SectionCreate, WaitingRoomConfig
from reservations.events.service import insert_event
from reservations.inventory import service as tickets

UTC = dt.UTC


def client_id(n: int) -> uuid.UUID:
    """The challenge's seeded clients: 660e8400-…-446655440001 to …005."""
    return uuid.UUID(f"660e8400-e29b-41d4-a716-{446655440000 + n:012d}")


def jazz_buyer_id(n: int) -> uuid.UUID:
    """The 45 buyers of "Concerto de Jazz": 660e8400-…-446655440101 to …145."""
    return uuid.UUID(f"660e8400-e29b-41d4-a716-{446655440100 + n:012d}")


def event_id(n: int) -> uuid.UUID:
    """The challenge's events: 550e8400-…-446655440001 to …005."""
    return uuid.UUID(f"550e8400-e29b-41d4-a716-{446655440000 + n:012d}")


def demo_event_id(n: int) -> uuid.UUID:
    """Demo events of the product API: 770e8400-…-446655440001 (seated), …002 (waiting room)."""
    return uuid.UUID(f"770e8400-e29b-41d4-a716-{446655440000 + n:012d}")


CLIENTS = [
    (client_id(1), "João Silva", "joao.silva@example.com", "52998224725"),
    (client_id(2), "Maria Santos", "maria.santos@example.com", "11144477735"),
    (client_id(3), "Pedro Oliveira", "pedro.oliveira@example.com", "39053344705"),
    (client_id(4), "Ana Costa", "ana.costa@example.com", "71428793860"),
    (client_id(5), "Carlos Pereira", "carlos.pereira@example.com", "28625587887"),
]

_FIRST = ["Beatriz", "Rafael", "Juliana", "Lucas", "Fernanda", "Gabriel", "Camila", "Thiago", "Larissa"]
_LAST = ["Almeida", "Ribeiro", "Carvalho", "Gomes", "Martins"]

# id, name, venue, starts_at, capacity, price_cents, tickets already sold
CHALLENGE_EVENTS = [
    (event_id(1), "Show de Rock", "Arena Central", dt.datetime(2025, 8, 15, 20, 0, tzinfo=UTC), 100, 5000, 0),
    (
        event_id(2),
        "Festival de Verão",
        "Praia do Futuro",
        dt.datetime(2025, 7, 20, 18, 0, tzinfo=UTC),
        500,
        7500,
        0,
    ),
    (
        event_id(3),
        "Concerto de Jazz",
        "Teatro Municipal",
        dt.datetime(2025, 9, 10, 19, 30, tzinfo=UTC),
        50,
        12000,
        45,
    ),
    (
        event_id(4),
        "Noite de Stand-up",
        "Teatro Municipal",
        dt.datetime(2027, 3, 12, 21, 0, tzinfo=UTC),
        80,
        4000,
        0,
    ),
    (
        event_id(5),
        "Orquestra Sinfônica",
        "Sala São Paulo",
        dt.datetime(2027, 5, 8, 19, 0, tzinfo=UTC),
        300,
        15000,
        0,
    ),
]


async def seed(conn: Connection) -> None:
    async with conn.transaction():
        await _seed_clients(conn)
        for eid, name, venue, starts_at, capacity, price, sold in CHALLENGE_EVENTS:
            created = await insert_event(
                conn,
                event_id=eid,
                name=name,
                venue=venue,
                starts_at=starts_at,
                sales_open_at=None,
                price_cents=price,
                capacity=capacity,
                sections=None,
                max_per_customer=1,
                face="challenge",
            )
            if created is not None and sold:
                await _sell(conn, event_id=eid, buyers=[jazz_buyer_id(n) for n in range(1, sold + 1)])
        await _seed_demo_events(conn)


async def _seed_clients(conn: Connection) -> None:
    rows = [(cid, name, email, cpf) for cid, name, email, cpf in CLIENTS]
    for n in range(1, 46):
        name = f"{_FIRST[(n - 1) % len(_FIRST)]} {_LAST[(n - 1) // len(_FIRST)]}"
        rows.append((jazz_buyer_id(n), name, f"publico.jazz.{n:02d}@example.com", f"{90000000000 + n}"))
    await customers.seed_customers(conn, rows=rows)


async def _sell(conn: Connection, *, event_id: uuid.UUID, buyers: list[uuid.UUID]) -> None:
    """One ticket per buyer, through the same primitives as a real purchase."""
    for buyer in buyers:
        await tickets.take_allowance(conn, customer_id=buyer, event_id=event_id, quantity=1, limit=1)
        (ticket,) = await tickets.claim_any(conn, event_id=event_id, quantity=1)
        await tickets.mark_booked(conn, ticket_ids=[ticket["id"]], customer_id=buyer)
        await tickets.insert_purchases(
            conn, event_id=event_id, customer_id=buyer, tickets=[(ticket["id"], ticket["price_cents"], False)]
        )


async def _seed_demo_events(conn: Connection) -> None:
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    await insert_event(
        conn,
        event_id=demo_event_id(1),
        name="Gala de Ópera — Lugares Marcados",
        venue="Theatro Municipal",
        starts_at=now + dt.timedelta(days=30),
        sales_open_at=now - dt.timedelta(hours=1),
        price_cents=None,
        capacity=None,
        sections=[
            SectionCreate(name="Plateia VIP", price_cents=25000, rows=4, seats_per_row=10),
            SectionCreate(name="Plateia", price_cents=15000, rows=8, seats_per_row=16),
            SectionCreate(name="Balcão", price_cents=8000, rows=6, seats_per_row=12),
        ],
        max_per_customer=4,
        hold_ttl_s=300,
        half_price=True,
    )
    await insert_event(
        conn,
        event_id=demo_event_id(2),
        name="Festival Flash — Pista",
        venue="Parque da Cidade",
        starts_at=now + dt.timedelta(days=45),
        sales_open_at=now - dt.timedelta(hours=1),
        price_cents=18000,
        capacity=2000,
        sections=None,
        max_per_customer=2,
        hold_ttl_s=300,
        waiting_room=WaitingRoomConfig(
            enabled=True, admission_factor=1.0, prequeue="fifo", max_admit_per_s=50
        ),
    )

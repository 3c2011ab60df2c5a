"""Events: creation with their ticket rows, reading one (`get_event`, used by other
services), listing with live counters, and the seat map."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence

import asyncpg
from arq.connections import ArqRedis

from core.config import get_settings
from core.db import CLIENT_MARGIN_S, Connection, queries_beside
from core.schemas import EARLIEST, LATEST
from reservations import hooks
from reservations.errors import EventNotFound
from reservations.events.checks import check_event, section_capacity
from reservations.events.schemas import (
    CancelPolicy,
    Event,
    EventCreate,
    EventStatus,
    EventView,
    Face,
    Live,
    Seat,
    SeatStatus,
    Section,
    SectionCreate,
    WaitingRoom,
    WaitingRoomConfig,
)
from reservations.events.types import ticket_types
from reservations.inventory.stock import Stock, TypeStock, cache_gate_stock, get_stock
from reservations.orders.service import refresh_event_meta

Q = queries_beside(__file__)
log = logging.getLogger("crowdpass.events")

# A status filter looks at this many events (in start order) before it stops.
LIST_SCAN_LIMIT = 1000

_SEAT_STATUS: dict[str, SeatStatus] = {"AVAILABLE": "available", "IN_PROGRESS": "held", "BOOKED": "sold"}


def event_status(event: Event, *, available: int, now: dt.datetime) -> EventStatus:
    if event.closed or event.starts_at <= now:
        return "closed"
    if event.sales_open_at is not None and event.sales_open_at > now:
        return "scheduled"
    if available == 0:
        return "sold_out"
    return "on_sale"


def _event(row: asyncpg.Record) -> Event:
    return Event(**dict(row))


async def get_event(conn: Connection, *, event_id: uuid.UUID) -> Event:
    """The event's row, or EventNotFound."""
    row = await conn.fetchrow(Q.get_event, event_id)
    if row is None:
        raise EventNotFound()
    return _event(row)


async def insert_event(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    name: str,
    venue: str,
    starts_at: dt.datetime,
    sales_open_at: dt.datetime | None,
    price_cents: int | None,
    capacity: int | None,
    sections: Sequence[SectionCreate] | None,
    max_per_customer: int = 1,
    hold_ttl_s: int = 300,
    half_price: bool = False,
    waiting_room: WaitingRoomConfig | None = None,
    face: Face = "product",
    hold_extension_s: int | None = None,
) -> Event | None:
    """Write an event, its sections and one ticket row per ticket, inside the caller's
    transaction. Arguments must already be valid (see `check_event`). Returns None when an
    event with this id exists already (the seed relies on that to run twice)."""
    wr = waiting_room or WaitingRoomConfig()
    bulk_ms = get_settings().bulk_statement_timeout_ms
    # A bulk query class: up to CHALLENGE_MAX_CAPACITY ticket rows in one statement.
    await conn.execute(Q.set_bulk_timeout, f"{bulk_ms}ms")
    bulk_s = bulk_ms / 1000 + CLIENT_MARGIN_S
    if sections:
        total = sum(section_capacity(s) for s in sections)
        price = min(s.price_cents for s in sections)
    else:
        assert capacity is not None and price_cents is not None
        total, price = capacity, price_cents
    row = await conn.fetchrow(
        Q.insert_event,
        event_id,
        name,
        venue,
        starts_at,
        sales_open_at,
        price,
        total,
        bool(sections),
        max_per_customer,
        hold_ttl_s,
        half_price,
        wr.enabled,
        face,
        hold_extension_s,
    )
    if row is None:
        return None
    if wr.enabled:
        await hooks.waiting_rooms.create(conn, event_id=event_id, config=wr)
    if not sections:
        await conn.execute(Q.insert_unlabeled_tickets, event_id, None, price, total, timeout=bulk_s)
        return _event(row)
    for position, s in enumerate(sections):
        await conn.execute(
            Q.insert_section,
            event_id,
            s.name,
            s.price_cents,
            section_capacity(s),
            position,
            "general" if s.capacity is not None else "seated",
            s.sales_open_at,
            s.sales_close_at,
            s.max_per_customer,
        )
        if s.capacity is not None:
            await conn.execute(
                Q.insert_unlabeled_tickets, event_id, s.name, s.price_cents, s.capacity, timeout=bulk_s
            )
        else:
            await conn.execute(
                Q.insert_seated_tickets,
                event_id,
                s.name,
                s.price_cents,
                s.rows,
                s.seats_per_row,
                timeout=bulk_s,
            )
    return _event(row)


async def create_event(conn: Connection, redis: ArqRedis, *, data: EventCreate) -> EventView:
    """One transaction writes the event and reads it back; nothing stays written when any
    step fails. Redis is told after the commit (the reconcile cron repairs it if that fails)."""
    data = check_event(data)
    async with conn.transaction():
        event = await insert_event(
            conn,
            event_id=uuid.uuid4(),
            name=data.name,
            venue=data.venue,
            starts_at=data.starts_at,
            sales_open_at=data.sales_open_at,
            price_cents=data.price_cents,
            capacity=data.capacity,
            sections=data.sections,
            max_per_customer=data.max_per_customer,
            hold_ttl_s=data.hold_ttl_s,
            hold_extension_s=data.hold_extension_s,
            half_price=data.half_price,
            waiting_room=data.waiting_room,
        )
        assert event is not None  # a fresh id never conflicts
        view = await _fresh_view(conn, event)
    try:
        await refresh_event_meta(conn, redis, event_id=event.id)  # the order gate answers from Redis
        # Every ticket is on sale, of every type.
        types = {t.name: t.capacity for t in view.ticket_types}
        await cache_gate_stock(redis, event_id=event.id, available=event.capacity, types=types)
    except Exception:  # the gate reads PostgreSQL on a miss; the reconcile cron rebuilds these
        log.warning("event %s created; caching it in Redis failed", event.id, exc_info=True)
    return view


async def _fresh_view(conn: Connection, event: Event) -> EventView:
    """The view of an event just written in this transaction: every ticket available."""
    sections = await _sections_of(conn, [event.id]) if event.seated else {}
    rooms = await hooks.waiting_rooms.read(conn, event_ids=[event.id]) if event.waiting_room else {}
    types = tuple(
        TypeStock(name=r["name"], sold=0, held=0, available=r["capacity"]) for r in sections.get(event.id, [])
    )
    stock = Stock(capacity=event.capacity, sold=0, held=0, available=event.capacity, types=types)
    return _view(event, sections.get(event.id, []), stock, dt.datetime.now(dt.UTC), _room(event, rooms))


_NO_ROOM = WaitingRoomConfig()


def _room(event: Event, rooms: dict[uuid.UUID, WaitingRoom]) -> WaitingRoom:
    room = rooms.get(event.id)
    if room is not None and event.waiting_room:
        return room
    return WaitingRoom(
        enabled=event.waiting_room,
        admission_factor=_NO_ROOM.admission_factor,
        prequeue=_NO_ROOM.prequeue,
        max_admit_per_s=_NO_ROOM.max_admit_per_s,
        paused=False,
    )


def _view(
    event: Event, rows: list[asyncpg.Record], stock: Stock, now: dt.datetime, room: WaitingRoom
) -> EventView:
    return EventView(
        id=event.id,
        name=event.name,
        venue=event.venue,
        starts_at=event.starts_at,
        sales_open_at=event.sales_open_at,
        price_cents=event.price_cents,
        capacity=event.capacity,
        seated=event.seated,
        sections=[
            Section(name=r["name"], price_cents=r["price_cents"], capacity=r["capacity"]) for r in rows
        ],
        ticket_types=ticket_types(event, rows, stock.types, now),
        max_per_customer=event.max_per_customer,
        hold_ttl_s=event.hold_ttl_s,
        half_price=event.half_price,
        closed=event.closed,
        waiting_room=room,
        live=Live(
            capacity=stock.capacity,
            sold=stock.sold,
            held=stock.held,
            available=stock.available,
            status=event_status(event, available=stock.available, now=now),
        ),
        cancel_policy=CancelPolicy(
            buyer_cancel_until=event.buyer_cancel_until,
            fee_cents=event.cancel_fee_cents,
            open=event.buyer_cancel_until is not None
            and event.cancelled_at is None
            and now <= event.buyer_cancel_until,
        ),
        created_at=event.created_at,
    )


async def _sections_of(conn: Connection, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """The sections (ticket types) of the events, in their order."""
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for r in await conn.fetch(Q.list_sections, event_ids):
        found.setdefault(r["event_id"], []).append(r)
    return found


async def get_event_view(conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID) -> EventView:
    """The event with its live counters (read through the stock cache)."""
    event = await get_event(conn, event_id=event_id)
    sections = await _sections_of(conn, [event.id]) if event.seated else {}
    stock = await get_stock(conn, redis, event_id=event.id)
    rooms = await hooks.waiting_rooms.read(conn, event_ids=[event.id]) if event.waiting_room else {}
    return _view(event, sections.get(event.id, []), stock, dt.datetime.now(dt.UTC), _room(event, rooms))


async def list_events(
    conn: Connection,
    *,
    status: EventStatus | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    limit: int = 100,
) -> list[EventView]:
    """Events by start time, with counters straight from the ticket rows. A row whose
    instants lie outside the accepted window (written before dates were bounded) is left
    out and logged, so it cannot break the list for everyone."""
    rows = await conn.fetch(
        Q.list_events, starts_from, starts_before, LIST_SCAN_LIMIT if status is not None else limit
    )
    events = [e for e in map(_event, rows) if _in_window(e)]
    ids = [e.id for e in events]
    # One row per event and ticket type (section); an event's counters are their sum.
    by_type: dict[uuid.UUID, list[TypeStock]] = {}
    for r in await conn.fetch(Q.list_events_stock, ids):
        by_type.setdefault(r["event_id"], []).append(
            TypeStock(name=r["section"] or "", sold=r["sold"], held=r["held"], available=r["available"])
        )
    sections = await _sections_of(conn, [e.id for e in events if e.seated])
    rooms = await hooks.waiting_rooms.read(conn, event_ids=[e.id for e in events if e.waiting_room])
    now = dt.datetime.now(dt.UTC)
    views = []
    for event in events:
        counted = by_type.get(event.id, [])
        stock = Stock(
            capacity=event.capacity,
            sold=sum(t.sold for t in counted),
            held=sum(t.held for t in counted),
            available=sum(t.available for t in counted),
            types=tuple(t for t in counted if event.seated),
        )
        view = _view(event, sections.get(event.id, []), stock, now, _room(event, rooms))
        if status is None or view.live.status == status:
            views.append(view)
            if len(views) == limit:
                break
    return views


def _in_window(event: Event) -> bool:
    """False (and a warning naming the event) when a stored instant is out of the window:
    PostgreSQL's -infinity and +infinity arrive as naive year 1 and year 9999."""
    for column, moment in (("starts_at", event.starts_at), ("sales_open_at", event.sales_open_at)):
        if moment is not None and (moment.tzinfo is None or not EARLIEST <= moment <= LATEST):
            log.warning("event %s skipped: %s %s is outside the accepted window", event.id, column, moment)
            return False
    return True


async def list_seats(conn: Connection, *, event_id: uuid.UUID, section: str | None = None) -> list[Seat]:
    """The labelled seats of an event with their state; unlabelled tickets are not listed."""
    await get_event(conn, event_id=event_id)
    return [
        Seat(
            id=r["id"],
            section=r["section"],
            row=r["row_label"],
            number=r["seat_number"],
            price_cents=r["price_cents"],
            status=_SEAT_STATUS[r["status"]],
        )
        for r in await conn.fetch(Q.list_seats, event_id, section)
    ]

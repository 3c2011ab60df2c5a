"""The organizer's management of an event: edit it (what may change after the first sale
is enforced), close sales, and the sales report (JSON and CSV). Cancelling an event is in
reservations/refunds/ (it refunds every purchase)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Annotated, Any, Literal

import msgspec
from arq.connections import ArqRedis

from core.db import Connection, queries_beside
from core.errors import BadRequest, Conflict
from core.schemas import Out, Struct
from reservations.customers.schemas import clean_text
from reservations.errors import EventNotFound
from reservations.events.schemas import Capacity, Price
from reservations.events.types import TicketTypePatch, update_ticket_types
from reservations.inventory.stock import cache_gate_stock, stock_changed
from reservations.orders.service import refresh_event_meta

Q = queries_beside(__file__)
UNSET: Any = msgspec.UNSET
Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]


class ChangeNotAllowed(Conflict):
    code = "change_not_allowed"
    default_detail = "This may not change any more."


class EventPatch(Struct, frozen=True, kw_only=True):
    """Only the fields given change. `capacity` and `price_cents` (general admission) only
    before the first sale or hold; `closed: true` closes sales (false reopens them)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = UNSET
    venue: Annotated[str, msgspec.Meta(max_length=200)] | msgspec.UnsetType = UNSET
    starts_at: Instant | msgspec.UnsetType = UNSET
    sales_open_at: Instant | msgspec.UnsetType | None = UNSET
    max_per_customer: Annotated[int, msgspec.Meta(ge=1, le=20)] | msgspec.UnsetType = UNSET
    hold_ttl_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] | msgspec.UnsetType = UNSET
    half_price: bool | msgspec.UnsetType = UNSET
    closed: bool | msgspec.UnsetType = UNSET
    price_cents: Price | msgspec.UnsetType = UNSET
    capacity: Capacity | msgspec.UnsetType = UNSET
    buyer_cancel_until: Instant | msgspec.UnsetType | None = UNSET  # null: buyers cannot cancel
    cancel_fee_cents: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] | msgspec.UnsetType = UNSET
    # A ticket type's own window and limit (docs/ticket-types.md); prices and sizes stay.
    ticket_types: Annotated[list[TicketTypePatch], msgspec.Meta(max_length=50)] | msgspec.UnsetType = UNSET


class ReportSection(Out, frozen=True, kw_only=True):
    section: str  # "" for general admission
    capacity: int
    sold: int
    held: int
    available: int
    purchases: int
    revenue_cents: int
    refunds: int
    refunded_cents: int
    checked_in: int


class ReportBucket(Out, frozen=True, kw_only=True):
    at: dt.datetime
    sold: int
    refunded: int
    revenue_cents: int


class EventReport(Out, frozen=True, kw_only=True):
    event_id: uuid.UUID
    name: str
    cancelled: bool
    capacity: int
    sold: int
    held: int
    available: int
    revenue_cents: int
    refunds: int
    refunded_cents: int
    checked_in: int
    by_section: list[ReportSection]
    over_time: list[ReportBucket]


def _given(value: Any, current: Any) -> Any:
    return current if value is UNSET else value


async def update_event(conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID, data: EventPatch) -> None:
    """Apply the changes in one transaction, then refresh the order gate's cache."""
    async with conn.transaction():
        row = await conn.fetchrow(Q.lock_event_for_change, event_id)
        if row is None:
            raise EventNotFound()
        if row["cancelled_at"] is not None:
            raise ChangeNotAllowed("The event is cancelled.")
        started = row["has_sales"] or row["has_holds"]
        price, capacity = row["price_cents"], row["capacity"]
        if data.price_cents is not UNSET or data.capacity is not UNSET:
            if row["seated"]:
                field = "price_cents" if data.price_cents is not UNSET else "capacity"
                raise BadRequest("A seated event's prices and sizes are its sections'.", field=field)
            if started:
                raise ChangeNotAllowed("Prices and capacity are fixed once tickets are held or sold.")
            price, capacity = _given(data.price_cents, price), _given(data.capacity, capacity)
        starts_at = _given(data.starts_at, row["starts_at"])
        sales_open_at = _given(data.sales_open_at, row["sales_open_at"])
        if sales_open_at is not None and sales_open_at > starts_at:
            raise BadRequest("Sales must open before the event starts.", field="sales_open_at")
        name = clean_text(data.name, field="name") if isinstance(data.name, str) else row["name"]
        venue = data.venue.strip() if isinstance(data.venue, str) else row["venue"]
        if "\x00" in venue:
            raise BadRequest("Must not contain NUL characters.", field="venue")
        current = await conn.fetchrow(Q.get_event, event_id)
        await conn.execute(
            Q.update_event,
            event_id,
            name,
            venue,
            starts_at,
            sales_open_at,
            _given(data.max_per_customer, current["max_per_customer"]),
            _given(data.hold_ttl_s, current["hold_ttl_s"]),
            _given(data.half_price, current["half_price"]),
            _given(data.closed, row["closed"]),
            _given(data.buyer_cancel_until, row["buyer_cancel_until"]),
            _given(data.cancel_fee_cents, row["cancel_fee_cents"]),
            price,
            capacity,
        )
        if isinstance(data.ticket_types, list):
            await update_ticket_types(conn, event_id=event_id, starts_at=starts_at, patches=data.ticket_types)
        if price != row["price_cents"]:
            await conn.execute(Q.reprice_tickets, event_id, price)
        if capacity > row["capacity"]:
            await conn.execute(Q.insert_unlabeled_tickets, event_id, None, price, capacity - row["capacity"])
        elif capacity < row["capacity"]:
            await conn.execute(Q.drop_available_tickets, event_id, row["capacity"] - capacity)
    await refresh_event_meta(conn, redis, event_id=event_id)
    if capacity != row["capacity"]:
        await cache_gate_stock(redis, event_id=event_id, available=capacity)
    await stock_changed(redis, event_id=event_id)


async def event_report(
    conn: Connection, *, event_id: uuid.UUID, interval: Literal["hour", "day"]
) -> EventReport:
    event = await conn.fetchrow(Q.lock_event_for_change.replace("FOR UPDATE", ""), event_id)
    if event is None:
        raise EventNotFound()
    stock = {r["section"]: r for r in await conn.fetch(Q.report_stock, event_id)}
    sales = {r["section"]: r for r in await conn.fetch(Q.report_sales, event_id)}
    sections = []
    for name in sorted(set(stock) | set(sales)):
        s, p = stock.get(name), sales.get(name)
        sections.append(
            ReportSection(
                section=name,
                capacity=s["capacity"] if s else 0,
                sold=s["sold"] if s else 0,
                held=s["held"] if s else 0,
                available=s["available"] if s else 0,
                purchases=p["purchases"] if p else 0,
                revenue_cents=p["revenue_cents"] if p else 0,
                refunds=p["refunds"] if p else 0,
                refunded_cents=p["refunded_cents"] if p else 0,
                checked_in=p["checked_in"] if p else 0,
            )
        )
    buckets = [
        ReportBucket(at=r["bucket"], sold=r["sold"], refunded=r["refunded"], revenue_cents=r["revenue_cents"])
        for r in await conn.fetch(Q.report_over_time, event_id, interval)
    ]
    return EventReport(
        event_id=event_id,
        name=event["name"],
        cancelled=event["cancelled_at"] is not None,
        capacity=sum(s.capacity for s in sections),
        sold=sum(s.sold for s in sections),
        held=sum(s.held for s in sections),
        available=sum(s.available for s in sections),
        revenue_cents=sum(s.revenue_cents for s in sections),
        refunds=sum(s.refunds for s in sections),
        refunded_cents=sum(s.refunded_cents for s in sections),
        checked_in=sum(s.checked_in for s in sections),
        by_section=sections,
        over_time=buckets,
    )


def report_csv(report: EventReport) -> str:
    """Two tables in one file: one row per section (and a total), then one per time bucket."""
    out = io.StringIO()
    w = csv.writer(out)
    cols = [
        "capacity",
        "sold",
        "held",
        "available",
        "purchases",
        "revenue_cents",
        "refunds",
        "refunded_cents",
    ]
    w.writerow(["section", *cols, "checked_in"])
    for s in report.by_section:
        w.writerow([s.section or "general admission", *(getattr(s, c) for c in cols), s.checked_in])
    w.writerow(["TOTAL", report.capacity, report.sold, report.held, report.available,
                sum(s.purchases for s in report.by_section), report.revenue_cents, report.refunds,
                report.refunded_cents, report.checked_in])  # fmt: skip
    w.writerow([])
    w.writerow(["time", "sold", "refunded", "revenue_cents"])
    for b in report.over_time:
        w.writerow([b.at.isoformat(), b.sold, b.refunded, b.revenue_cents])
    return out.getvalue()

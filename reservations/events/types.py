"""Ticket types (docs/ticket-types.md, ADR 0018): a type is a row of `sections`, named in
the API by `ticket_type`. This module checks a type's own terms when an event is written and
builds the `ticket_types` of the event view; holds apply the terms in SQL
(reservations/holds/queries.sql `hold_tickets`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import msgspec

from core.db import Connection, queries_beside
from core.errors import BadRequest
from core.schemas import Struct, check_instant
from reservations.errors import UnknownTicketType
from reservations.events.schemas import Event, PerCustomer, SectionCreate, TicketType
from reservations.inventory.stock import TypeStock

Q = queries_beside(__file__)
UNSET: Any = msgspec.UNSET
Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]


class TicketTypePatch(Struct, frozen=True, kw_only=True):
    """A change of one ticket type's own terms (`PATCH /api/events/{id}` `ticket_types`):
    only the fields given change; null puts back the event's."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="The type to change.")]
    sales_open_at: Instant | msgspec.UnsetType | None = UNSET
    sales_close_at: Instant | msgspec.UnsetType | None = UNSET
    max_per_customer: PerCustomer | msgspec.UnsetType | None = UNSET


async def update_ticket_types(
    conn: Connection, *, event_id: Any, starts_at: dt.datetime, patches: list[TicketTypePatch]
) -> None:
    """Apply the changes inside the caller's transaction; a bad one is a 400 (or 422 for an
    unknown name) naming `ticket_types[i]...`, and the caller's transaction rolls back.
    A lower limit refuses new tickets above it; tickets already held or sold stay."""
    for i, p in enumerate(patches):
        at = f"ticket_types[{i}]"
        row = await conn.fetchrow(Q.lock_ticket_type, event_id, p.name)
        if row is None:
            raise UnknownTicketType(f"This event has no ticket type {p.name!r}.", field=f"{at}.name")
        terms = check_type_terms(
            SectionCreate(
                name=p.name,
                price_cents=0,
                capacity=1,
                sales_open_at=row["sales_open_at"]
                if isinstance(p.sales_open_at, msgspec.UnsetType)
                else p.sales_open_at,
                sales_close_at=row["sales_close_at"]
                if isinstance(p.sales_close_at, msgspec.UnsetType)
                else p.sales_close_at,
            ),
            at=at,
            starts_at=starts_at,
        )
        limit = row["max_per_customer"] if p.max_per_customer is UNSET else p.max_per_customer
        await conn.execute(
            Q.update_ticket_type, event_id, p.name, terms.sales_open_at, terms.sales_close_at, limit
        )


def check_type_terms(section: SectionCreate, *, at: str, starts_at: dt.datetime) -> SectionCreate:
    """The type's own sale window in UTC, or a 400 naming the field: it must close after it
    opens, and open before the event starts."""
    opens, closes = section.sales_open_at, section.sales_close_at
    if opens is not None:
        opens = check_instant(opens, field=f"{at}.sales_open_at")
        if opens > starts_at:
            raise BadRequest(
                "A ticket type's sale must open before the event starts.", field=f"{at}.sales_open_at"
            )
    if closes is not None:
        closes = check_instant(closes, field=f"{at}.sales_close_at")
        if opens is not None and closes <= opens:
            raise BadRequest("A ticket type's sale must close after it opens.", field=f"{at}.sales_close_at")
    return msgspec.structs.replace(section, sales_open_at=opens, sales_close_at=closes)


def type_in_window(event: Event, row: Mapping[str, Any], now: dt.datetime) -> bool:
    """Whether the type's terms allow a sale now: the event sells (not closed, not started,
    its sale open) and so does the type (its own window, when it has one). The same rule as
    the `hold_tickets` statement's."""
    if event.closed or event.starts_at <= now:
        return False
    for opens in (event.sales_open_at, row["sales_open_at"]):  # the type's narrows the event's
        if opens is not None and opens > now:
            return False
    closes = row["sales_close_at"]
    return closes is None or now < closes


def ticket_types(
    event: Event, rows: Iterable[Mapping[str, Any]], counts: Iterable[TypeStock], now: dt.datetime
) -> list[TicketType]:
    """The event's types in their order, each with its counters (0 when none were read)."""
    by_name = {c.name: c for c in counts}
    types = []
    for r in rows:
        c = by_name.get(r["name"])
        available = c.available if c else 0
        types.append(
            TicketType(
                name=r["name"],
                kind=r["kind"],
                price_cents=r["price_cents"],
                capacity=r["capacity"],
                available=available,
                held=c.held if c else 0,
                sold=c.sold if c else 0,
                sales_open_at=r["sales_open_at"],
                sales_close_at=r["sales_close_at"],
                max_per_customer=r["max_per_customer"],
                on_sale=available > 0 and type_in_window(event, r, now),
            )
        )
    return types

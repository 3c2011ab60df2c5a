"""Events of the product API: creation, the row as other services see it, and the views."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from core.errors import BadRequest
from core.schemas import Out, Struct, check_instant

MAX_CAPACITY = 200_000
Face = Literal["product", "challenge"]
MAX_PRICE_CENTS = 100_000_000  # one million in the currency's units
MAX_ROWS = 702  # labels A..Z, AA..ZZ
MAX_SEATS_PER_ROW = 1_000

EventStatus = Literal["scheduled", "on_sale", "sold_out", "closed"]
SeatStatus = Literal["available", "held", "sold"]
Price = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE_CENTS)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=MAX_CAPACITY)]


def parse_instant(value: str, *, field: str) -> tuple[dt.datetime, bool]:
    """An ISO 8601 date or date-time; without an offset it is UTC. It must lie between
    1970 and 2200 (`core.schemas.check_instant`).

    Returns the instant and whether the text was a date only (midnight UTC).
    """
    text = value.strip()
    if not 8 <= len(text) <= 40:
        raise BadRequest("Expected an ISO 8601 date or date-time.", field=field)
    try:
        if len(text) <= 10 and "T" not in text.upper():
            day = dt.date.fromisoformat(text)
            return check_instant(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), field=field), True
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("Expected an ISO 8601 date or date-time.", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return check_instant(moment, field=field), False


TicketTypeKind = Literal["general", "seated"]
PerCustomer = Annotated[int, msgspec.Meta(ge=1, le=20)]


class SectionCreate(Struct, frozen=True, kw_only=True):
    """A ticket type (docs/ticket-types.md): either `capacity` (general admission, unlabelled
    tickets) or `rows` and `seats_per_row` (labelled seats). Its own sale window and
    per-customer limit are optional (null: the event's)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="The ticket type's name.")]
    price_cents: Price
    capacity: Capacity | None = None
    rows: Annotated[int, msgspec.Meta(ge=1, le=MAX_ROWS)] | None = None
    seats_per_row: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEATS_PER_ROW)] | None = None
    sales_open_at: (
        Annotated[dt.datetime, msgspec.Meta(tz=True, description="Null: when the event's sale opens.")] | None
    ) = None
    sales_close_at: (
        Annotated[dt.datetime, msgspec.Meta(tz=True, description="Null: until the event starts.")] | None
    ) = None
    max_per_customer: (
        Annotated[int, msgspec.Meta(ge=1, le=20, description="Null: only the event's limit applies.")] | None
    ) = None


class WaitingRoomConfig(Struct, frozen=True, kw_only=True):
    enabled: bool = False
    admission_factor: Annotated[float, msgspec.Meta(gt=0, le=10)] = 1.0
    prequeue: Literal["fifo", "lottery"] = "fifo"
    max_admit_per_s: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 100


class EventCreate(Struct, frozen=True, kw_only=True):
    """General admission (`capacity` + `price_cents`) or seated (`sections`)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    venue: Annotated[str, msgspec.Meta(max_length=200)] = ""
    starts_at: Annotated[dt.datetime, msgspec.Meta(tz=True)]
    sales_open_at: Annotated[dt.datetime, msgspec.Meta(tz=True)] | None = None
    price_cents: Price | None = None
    capacity: Capacity | None = None
    sections: Annotated[list[SectionCreate], msgspec.Meta(min_length=1, max_length=50)] | None = None
    max_per_customer: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    hold_ttl_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 300
    # What one extension of a hold adds (POST /api/holds/{id}/extend): None = hold_ttl_s, 0 = none.
    hold_extension_s: Annotated[int, msgspec.Meta(ge=0, le=3600)] | None = None
    half_price: bool = False
    waiting_room: WaitingRoomConfig = msgspec.field(default_factory=WaitingRoomConfig)


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One row of `events`, as other services read it (`service.events.get_event`)."""

    id: uuid.UUID
    name: str
    venue: str
    starts_at: dt.datetime
    sales_open_at: dt.datetime | None
    price_cents: int
    capacity: int
    seated: bool
    max_per_customer: int
    hold_ttl_s: int
    half_price: bool
    waiting_room: bool
    closed: bool
    face: Face  # who sees it: the product API sees both, the challenge routes only theirs
    created_at: dt.datetime
    buyer_cancel_until: dt.datetime | None = None  # None: buyers cannot cancel
    cancel_fee_cents: int = 0
    cancelled_at: dt.datetime | None = None  # the organizer cancelled it (every ticket refunded)


class Section(Out, frozen=True, kw_only=True):
    name: str
    price_cents: int
    capacity: int


class TicketType(Out, frozen=True, kw_only=True):
    """A ticket type with its live counters (docs/ticket-types.md). `sales_open_at`,
    `sales_close_at` and `max_per_customer` are the type's own (null: the event's);
    `on_sale` says whether it can be bought now."""

    name: str
    kind: TicketTypeKind
    price_cents: int
    capacity: int
    available: int
    held: int
    sold: int
    sales_open_at: dt.datetime | None
    sales_close_at: dt.datetime | None
    max_per_customer: int | None
    on_sale: bool


class WaitingRoom(Out, frozen=True, kw_only=True):
    enabled: bool
    admission_factor: float
    prequeue: str
    max_admit_per_s: int
    paused: bool


class Live(Out, frozen=True, kw_only=True):
    capacity: int
    sold: int
    held: int
    available: int
    status: EventStatus


class CancelPolicy(Out, frozen=True, kw_only=True):
    """What a buyer may do with a ticket of this event (PATCH sets it; docs/after-sale.md)."""

    buyer_cancel_until: dt.datetime | None  # None: buyers cannot cancel their tickets
    fee_cents: int  # kept on each cancelled ticket (at most its price)
    open: bool  # buyers may cancel now


class EventView(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    venue: str
    starts_at: dt.datetime
    sales_open_at: dt.datetime | None
    price_cents: int
    capacity: int
    seated: bool
    sections: list[Section]
    ticket_types: list[TicketType]  # empty for an event without sections (one general type)
    max_per_customer: int
    hold_ttl_s: int
    half_price: bool
    closed: bool
    waiting_room: WaitingRoom
    live: Live
    cancel_policy: CancelPolicy
    created_at: dt.datetime


class Seat(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    section: str | None
    row: str | None
    number: int | None
    price_cents: int
    status: SeatStatus


class SeatMapRow(Out, frozen=True, kw_only=True):
    label: str
    numbers: list[int]
    ids: list[uuid.UUID]
    status: str  # one letter per seat, in `ids` order: a available, h held, s sold


class SeatMapSection(Out, frozen=True, kw_only=True):
    name: str | None
    price_cents: int
    rows: list[SeatMapRow]


class SeatMap(Out, frozen=True, kw_only=True):
    """The compact seat map (`?format=compact`): sections, rows, a status letter per seat."""

    event_id: uuid.UUID
    version: int
    sections: list[SeatMapSection]


class SeatChange(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    status: SeatStatus

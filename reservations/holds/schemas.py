"""Bodies of the hold endpoints."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from core.errors import BadRequest
from core.payments import PaymentMethodId
from core.schemas import Out, Struct

MAX_TICKETS_PER_HOLD = 20


class HoldCreate(Struct, frozen=True):
    """Either `quantity` (any seats) or `seat_ids` (those seats), plus how many of the
    tickets are half price."""

    quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_TICKETS_PER_HOLD)] | None = None
    seat_ids: (
        Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=MAX_TICKETS_PER_HOLD)] | None
    ) = None
    half_price: Annotated[int, msgspec.Meta(ge=0, le=MAX_TICKETS_PER_HOLD)] = 0
    # A presale or discount code of the event (docs/codes.md); case is ignored.
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    # The ticket type (a section's name, docs/ticket-types.md); null: any type on sale now.
    ticket_type: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=100,
                description="The ticket type to hold (its name); null: any type on sale now. "
                "With `seat_ids`, every seat must be of this type.",
            ),
        ]
        | None
    ) = None

    def __post_init__(self) -> None:
        if (self.quantity is None) == (self.seat_ids is None):
            raise BadRequest("Give exactly one of `quantity` and `seat_ids`.", field="quantity")
        if self.seat_ids is not None and len(set(self.seat_ids)) != len(self.seat_ids):
            raise BadRequest("A seat is listed twice.", field="seat_ids")
        if self.half_price > self.count:
            raise BadRequest("More half-price tickets than tickets.", field="half_price")

    @property
    def count(self) -> int:
        return self.quantity if self.quantity is not None else len(self.seat_ids or ())


class HoldConfirm(Struct, frozen=True):
    payment_method: PaymentMethodId


class HeldTicket(Out, frozen=True):
    id: uuid.UUID
    section: str | None
    row: str | None
    number: int | None
    price_cents: int
    half_price: bool


class Hold(Out, frozen=True):
    id: uuid.UUID
    event_id: uuid.UUID
    customer_id: uuid.UUID
    status: str  # active | confirmed | cancelled | expired
    expires_at: dt.datetime
    seconds_left: int
    quantity: int
    half_price: int
    tickets: list[HeldTicket]
    total_cents: int
    created_at: dt.datetime
    ended_at: dt.datetime | None
    extended_at: dt.datetime | None = None
    # Seconds `POST /api/holds/{id}/extend` would add now (0: not possible); null when unknown
    # (the hold messages of /api/ws leave it out).
    extension_s: int | None = None
    code: str | None = None  # the code the hold carries (docs/codes.md)
    discount_cents: int = 0  # what the code took off `total_cents`


class Purchase(Out, frozen=True):
    id: uuid.UUID
    event_id: uuid.UUID
    customer_id: uuid.UUID
    ticket_id: uuid.UUID
    section: str | None
    row: str | None
    number: int | None
    price_cents: int
    half_price: bool
    created_at: dt.datetime


class HoldConfirmed(Out, frozen=True):
    hold_id: uuid.UUID
    payment_id: str | None
    total_cents: int
    purchases: list[Purchase]


class HoldPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a customer's holds and the cursor of the next (None on the last)."""

    holds: list[Hold]
    next_cursor: str | None

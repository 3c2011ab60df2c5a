"""Bodies of the order endpoints and of the `order` message on `/api/ws`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from core.payments import PaymentMethodId
from core.schemas import Out, Struct
from reservations.orders.errors import CodeNotAccepted

MAX_TICKETS_PER_ORDER = 10

IdempotencyKeyText = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]


class OrderCreate(Struct, frozen=True):
    event_id: uuid.UUID
    payment_method: PaymentMethodId
    quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_TICKETS_PER_ORDER)] = 1
    ticket_type: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=100,
                description="The ticket type to buy (its name, docs/ticket-types.md); null: any type on "
                "sale now without a per-customer limit of its own.",
            ),
        ]
        | None
    ) = None
    # Never accepted (422 `code_not_accepted`): codes go through holds (docs/codes.md). UNSET
    # is left out of the encoded body, so idempotency fingerprints are as before.
    code: (
        Annotated[str, msgspec.Meta(description="Not accepted: codes go through holds.")] | msgspec.UnsetType
    ) = msgspec.UNSET

    def __post_init__(self) -> None:
        if self.code is not msgspec.UNSET:
            raise CodeNotAccepted(field="code")


class OrderAccepted(Out, frozen=True):
    """The 202 body: the order exists and will be decided."""

    id: uuid.UUID
    status: str  # always "queued"
    event_id: uuid.UUID
    quantity: int


class OrderPurchase(Out, frozen=True):
    id: uuid.UUID
    ticket_id: uuid.UUID
    section: str | None
    row: str | None
    number: int | None
    price_cents: int
    created_at: dt.datetime


class Order(Out, frozen=True, omit_defaults=True):
    """An order as `GET /api/orders/{id}` and the `order` WebSocket message show it.

    `reason` is present when rejected, `purchases` when confirmed.
    """

    id: uuid.UUID
    status: str  # queued | confirmed | rejected
    event_id: uuid.UUID
    quantity: int
    accepted_at: dt.datetime
    decided_at: dt.datetime | None = None
    ticket_type: str | None = None  # present when the order names a ticket type
    reason: str | None = None
    total_cents: int | None = None
    purchases: list[OrderPurchase] | None = None
    # While queued and waiting for the payment provider: what to tell the buyer, and until
    # when the order keeps its tickets and is retried (then rejected `payment_unavailable`).
    notice: str | None = None
    payment_deadline: dt.datetime | None = None


class DecisionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One order decision of an orders worker, as the job monitor lists it (kept in Redis:
    the latest in `keys.orders_recent()`, those given up on in `keys.orders_failures()`)."""

    id: str  # the order id
    status: str  # succeeded | failed
    tries: int
    enqueued_ms: int  # the stream entry's time
    started_ms: int
    finished_ms: int
    error: str | None = None

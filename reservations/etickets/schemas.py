"""E-tickets as the API shows them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from core.schemas import Out

TicketState = Literal["valid", "checked_in", "refund_pending", "refunded"]


class ETicket(Out, frozen=True, kw_only=True):
    id: uuid.UUID  # the purchase id: one e-ticket per ticket sold
    event_id: uuid.UUID
    event_name: str
    venue: str
    starts_at: dt.datetime
    ticket_id: uuid.UUID
    section: str | None
    row: str | None
    number: int | None
    seat: str  # human label: "General admission", "Section A, row B, seat 3"
    holder: str
    price_cents: int
    half_price: bool
    purchased_at: dt.datetime
    state: TicketState
    checked_in_at: dt.datetime | None
    checked_in_door: str | None
    refunded_at: dt.datetime | None
    code: str  # what the QR code carries; verifiable offline (docs/after-sale.md)
    # The organizer's cancel policy for this ticket's buyer: until when, the fee kept, what
    # comes back, and whether the buyer may cancel it now (POST /api/tickets/{id}/refund).
    cancel_until: dt.datetime | None = None  # None: buyers cannot cancel tickets of this event
    cancel_fee_cents: int = 0
    cancel_refund_cents: int = 0
    cancellable: bool = False
    qr_png: str  # path of the QR code image
    page: str  # path of the printable page


class EventPurchase(Out, frozen=True, kw_only=True):
    """One purchase of an event, as the organizer's list shows it (with a Refund button)."""

    id: uuid.UUID  # the e-ticket (purchase) id: POST /api/tickets/{id}/refund
    buyer_name: str
    buyer_email: str
    seat: str
    price_cents: int
    purchased_at: dt.datetime
    state: TicketState
    checked_in_at: dt.datetime | None
    refunded_at: dt.datetime | None
    refund_cents: int | None
    refund_reason: str | None


class EventPurchases(Out, frozen=True, kw_only=True):
    items: list[EventPurchase]
    total: int  # purchases matching `q`, over every page
    page: int
    limit: int

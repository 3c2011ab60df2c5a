"""Refunds and cancellations as the API shows them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from core.schemas import Out

RefundReason = Literal["buyer", "organizer", "event_cancelled"]


class Refund(Out, frozen=True, kw_only=True):
    ticket_id: uuid.UUID  # the e-ticket (purchase) id
    event_id: uuid.UUID
    state: Literal["refunded"]
    reason: RefundReason
    price_cents: int
    refund_cents: int
    fee_cents: int
    refunded_at: dt.datetime
    provider_refund_id: str | None  # the provider's charge id; None when nothing was paid


class EventCancelled(Out, frozen=True, kw_only=True):
    event_id: uuid.UUID
    cancelled_at: dt.datetime
    purchases_to_refund: int  # refunded by a background job; every holder is told by email

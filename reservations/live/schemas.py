"""Messages of the live WebSockets (`/api/ws`, `/api/events/{id}/live`)."""

from __future__ import annotations

import datetime as dt
import uuid

from core.schemas import Out
from reservations.events.schemas import SeatChange
from reservations.orders.schemas import Order


class WsTicket(Out, frozen=True):
    """A one-use ticket for a WebSocket handshake (`?ticket=`)."""

    ticket: str
    expires_in_s: int


class TypeCounts(Out, frozen=True):
    """One ticket type's counters in a stock message (docs/ticket-types.md)."""

    name: str
    sold: int
    held: int
    available: int


class StockMessage(Out, frozen=True, omit_defaults=True):
    type: str  # "stock"
    sold: int
    held: int
    available: int
    status: str  # scheduled | on_sale | sold_out | closed
    types: list[TypeCounts] | None = None  # per ticket type; absent for an event without types


class SeatsMessage(Out, frozen=True):
    """The seats that changed between two stock versions: a page whose map is at `since`
    applies `changes` and is then at `version`; any other page reloads the map."""

    type: str  # "seats"
    since: int
    version: int
    changes: list[SeatChange]


class PurchaseMessage(Out, frozen=True):
    type: str  # "purchase"
    buyer: str  # first name and initial
    at: dt.datetime


class OrderMessage(Out, frozen=True):
    type: str  # "order"
    order: Order


class ReadyMessage(Out, frozen=True):
    """First message on a socket: the subscription is live, later messages will arrive."""

    type: str  # "ready"


class RecentPurchase(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    buyer: str  # first name and initial: "Maria S."
    at: dt.datetime

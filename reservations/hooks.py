"""What reservations lets the packages above it plug in (`app.py` and the workers do it at
startup; reservations never imports them):

- the admission check a hold must pass (`AdmissionCheck`): the waiting room's, for events
  sold through a queue; without one every customer may hold;
- listeners told after an event's stock changed (`on_stock_change`): the waiting room
  admits the next visitors when tickets come back;
- listeners told after a hold expired (`on_hold_expired`): the waiting room offers its
  visitor one return to the front of the line;
- listeners told of a waitlist offer made to an anonymous waiting-room visitor
  (`on_visitor_offer`): the waiting room calls them on their queue socket;
- where an event's waiting-room settings are kept (`WaitingRoomStore`): the waiting room's
  own table. Reservations keeps only whether an event sells through a queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from uuid import UUID

from arq.connections import ArqRedis

from core.db import Connection
from reservations.events.schemas import WaitingRoom, WaitingRoomConfig


class AdmissionCheck(Protocol):
    """Raise a catalogue error (403 `admission_required`) when this customer may not hold
    tickets of this event now; return when they may. `token` is the Admission-Token header,
    `visitor_token` the Visitor-Token header (the anonymous visitor the admission names)."""

    async def __call__(
        self,
        conn: Connection,
        redis: ArqRedis,
        *,
        event_id: UUID,
        customer_id: UUID,
        token: str | None,
        visitor_token: str | None = None,
    ) -> None: ...


async def admit_everyone(
    conn: Connection,
    redis: ArqRedis,
    *,
    event_id: UUID,
    customer_id: UUID,
    token: str | None,
    visitor_token: str | None = None,
) -> None:
    """The check when nothing is plugged in: every customer may hold."""


admission_check: AdmissionCheck = admit_everyone


def check_admissions_with(check: AdmissionCheck) -> None:
    global admission_check
    admission_check = check


StockListener = Callable[[ArqRedis, UUID], Awaitable[None]]
_stock_listeners: list[StockListener] = []


def on_stock_change(listener: StockListener) -> None:
    """Call `listener(redis, event_id)` after every committed change of an event's stock.
    Adding the same listener twice keeps one."""
    if listener not in _stock_listeners:
        _stock_listeners.append(listener)


async def stock_changed(redis: ArqRedis, event_id: UUID) -> None:
    for listener in _stock_listeners:
        await listener(redis, event_id)


HoldExpiredListener = Callable[[ArqRedis, UUID, UUID], Awaitable[None]]
_expiry_listeners: list[HoldExpiredListener] = []


def on_hold_expired(listener: HoldExpiredListener) -> None:
    """Call `listener(redis, event_id, customer_id)` after a hold expired (committed).
    Adding the same listener twice keeps one."""
    if listener not in _expiry_listeners:
        _expiry_listeners.append(listener)


async def hold_expired(redis: ArqRedis, event_id: UUID, customer_id: UUID) -> None:
    for listener in _expiry_listeners:
        await listener(redis, event_id, customer_id)


VisitorOfferListener = Callable[[ArqRedis, UUID, UUID, dict[str, Any]], Awaitable[None]]
_visitor_offer_listeners: list[VisitorOfferListener] = []


def on_visitor_offer(listener: VisitorOfferListener) -> None:
    """Call `listener(redis, event_id, visitor_id, message)` after a waitlist offer was made
    (committed) to an entry a waiting-room visitor joined; `message` is the offer's
    `waitlist_offer` message. Adding the same listener twice keeps one."""
    if listener not in _visitor_offer_listeners:
        _visitor_offer_listeners.append(listener)


async def visitor_offered(redis: ArqRedis, event_id: UUID, visitor_id: UUID, message: dict[str, Any]) -> None:
    for listener in _visitor_offer_listeners:
        await listener(redis, event_id, visitor_id, message)


class WaitingRoomStore(Protocol):
    async def create(self, conn: Connection, *, event_id: UUID, config: WaitingRoomConfig) -> None:
        """Keep the settings of a new event's room, in the caller's transaction."""

    async def read(self, conn: Connection, *, event_ids: list[UUID]) -> dict[UUID, WaitingRoom]:
        """The rooms of these events; an event without one is absent."""


class NoWaitingRooms:
    """The store when nothing is plugged in: no event has room settings."""

    async def create(self, conn: Connection, *, event_id: UUID, config: WaitingRoomConfig) -> None:
        if config.enabled:
            raise RuntimeError("an event with a waiting room needs the waiting room plugged in")

    async def read(self, conn: Connection, *, event_ids: list[UUID]) -> dict[UUID, WaitingRoom]:
        return {}


waiting_rooms: WaitingRoomStore = NoWaitingRooms()


def keep_waiting_rooms_in(store: WaitingRoomStore) -> None:
    global waiting_rooms
    waiting_rooms = store

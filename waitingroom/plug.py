"""How the waiting room plugs into reservations (called by `app.py` and the workers at
startup): holds of an event sold through a queue need an admission, every change of an
event's stock asks for an advance of its queue, and a new event's room settings are kept
in the waiting room's own table; an expired hold offers its visitor one return to the
front of the line (service/grace.py). The waitlist's offer rounds (reservations/waitlist/
offers.py) hear of returned tickets the same way, plugged here so every process that
plugs the waiting room in (API, workers, seed) plugs them too; and an offer made to an
anonymous visitor reaches their queue socket (service/live.py)."""

from __future__ import annotations

from uuid import UUID

from arq.connections import ArqRedis

from reservations import hooks
from reservations.waitlist.offers import offer_on_stock_change
from waitingroom.service.admission import request_advance, require_admission
from waitingroom.service.grace import grant_grace_on_expiry
from waitingroom.service.live import call_visitor_with_offer
from waitingroom.service.store import RoomStore


async def advance_on_stock_change(redis: ArqRedis, event_id: UUID) -> None:
    await request_advance(redis, event_id=event_id)


def plug_into_reservations() -> None:
    hooks.check_admissions_with(require_admission)
    hooks.on_stock_change(advance_on_stock_change)
    hooks.keep_waiting_rooms_in(RoomStore())
    hooks.on_hold_expired(grant_grace_on_expiry)
    hooks.on_stock_change(offer_on_stock_change)
    hooks.on_visitor_offer(call_visitor_with_offer)

"""The grace window: after a hold of a waiting-room sale expires, its visitor may come back
once, at the front of the line, within GRACE_WINDOW_S (docs/waiting-room.md, "Grace").

Reservations tells the waiting room of every expired hold (`hooks.on_hold_expired`, plugged
in by waitingroom/plug.py); `grant_grace` offers the return to the visitor whose admission
paid for that hold. `return_to_queue` takes the offer: one use per visitor, refused after
the window; the next tick admits the returner first.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from redis.asyncio import Redis

from core.config import get_settings
from core.db import Connection
from waitingroom import keys
from waitingroom.errors import GraceExpired, GraceUnavailable, GraceUsed
from waitingroom.schemas import QueueStatus
from waitingroom.service.admission import request_advance
from waitingroom.service.callers import QueueCaller
from waitingroom.service.queue import get_queue_place, queue_owner
from waitingroom.service.store import S, load_room, redis_now_ms, text
from waitingroom.service.tokens import expires_at


async def grant_grace(
    redis: Redis, *, event_id: UUID, customer_id: UUID, window_s: float | None = None
) -> dt.datetime | None:
    """Offer the visitor behind `customer_id`'s expired hold one return to the front; the
    deadline, or None when nothing is offered (no admission used, offered before, grace off)."""
    window_ms = int(1000 * (get_settings().grace_window_s if window_s is None else window_s))
    if window_ms <= 0:
        return None
    reply = await S.grant_grace(
        redis,
        [keys.grace(event_id), keys.done(event_id), keys.owners(event_id)],
        [str(customer_id), window_ms],
    )
    return expires_at(int(reply[2])) if int(reply[0]) == 1 else None


async def grant_grace_on_expiry(redis: Redis, event_id: UUID, customer_id: UUID) -> None:
    """The hook reservations calls after a hold expired (waitingroom/plug.py)."""
    await grant_grace(redis, event_id=event_id, customer_id=customer_id)


async def return_to_queue(conn: Connection, redis: Redis, *, event_id: UUID, owner: UUID) -> QueueStatus:
    """Take the grace offer: a place at the front of the line. 409 `grace_unavailable` (no
    offer, or an admission still open), 409 `grace_used`, 410 `grace_expired`."""
    settings = await load_room(conn, event_id=event_id)
    reply = await S.return_to_queue(
        redis,
        [
            keys.queue(event_id),
            keys.sequence(event_id),
            keys.grace(event_id),
            keys.done(event_id),
            keys.admitted(event_id),
            keys.meta(event_id),
        ],
        [str(owner)],
    )
    outcome = text(reply[0])
    if outcome == "used":
        raise GraceUsed()
    if outcome == "expired":
        raise GraceExpired(f"The window to come back closed at {expires_at(int(reply[1])).isoformat()}.")
    if outcome != "returned":
        raise GraceUnavailable()
    await redis.sadd(keys.live_events(), str(event_id))  # type: ignore[misc]
    if settings.is_open(await redis_now_ms(redis)) and not settings.paused:
        await request_advance(redis, event_id=event_id)
    return await get_queue_place(conn, redis, event_id=event_id, customer_id=owner)


async def return_to_queue_as(
    conn: Connection, redis: Redis, *, event_id: UUID, caller: QueueCaller
) -> QueueStatus:
    owner = await queue_owner(
        redis, event_id=event_id, customer_id=caller.customer_id, visitor_id=caller.visitor_id
    )
    return await return_to_queue(conn, redis, event_id=event_id, owner=owner)

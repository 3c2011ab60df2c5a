"""Offers: each ticket that comes back goes to the next waiting entry, in order.

A ticket that comes back (a hold expired or cancelled, an order's payment declined, a
refund) is kept for the waitlist by the database itself, in the transaction that returned
it (the trigger of core/migrations/0013_waitlist.sql), whenever an entry of its event and
type is waiting: from that moment nobody else can hold or order it (holds and orders skip
kept tickets). An offer round (`offer_returned_tickets`, one at a time per event under an
advisory lock) then:

1. ends the event's offers past their time: `used` when their holder held every pinned
   ticket, else `expired`; their tickets still on sale stay kept, unpinned;
2. pins the kept, unpinned tickets to the waiting entries in the order they joined (each
   up to its quantity, of its type) and makes each an offer for `WAITLIST_OFFER_TTL_S`;
3. puts kept tickets no waiting entry wants (or all of them, with the waitlist off) on sale.

After the commit each new offer gets its expiry job, a message on its customer's `/api/ws`
channel (or, for an anonymous waiting-room visitor, on their queue socket, through
`hooks.on_visitor_offer`) and an email with the checkout link carrying the offer's admission token. Rounds
run as the `waitlist.offer` job, enqueued by every stock change that returned tickets
(`request_offers`, plugged into reservations.hooks by app.py and the worker), at each
offer's expiry, and every few seconds by the sweep (the safety net).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from arq.connections import ArqRedis

from core.config import get_settings
from core.db import Connection, queries_beside, without_guard
from core.mail import Mail
from core.realtime import publisher_for
from reservations import hooks
from reservations import keys as reservation_keys
from reservations.inventory import service as tickets
from reservations.inventory import stock
from reservations.mail.service import queue_mail
from reservations.waitlist import keys
from reservations.waitlist.admission import checkout_url, encode_offer

Q = queries_beside(__file__)

log = logging.getLogger("crowdpass.waitlist")

ENTRIES_PER_ROUND = 1000


@dataclasses.dataclass
class Guards:
    """The race guard of the offer rounds, on in production. Only tests switch it off
    (`without_guard` in tests/concurrency/conftest.py); nothing else sets it."""

    # One round per event at a time (advisory lock, kept tickets locked), a ticket pinned
    # only while unpinned, an entry offered only while waiting: a returned ticket is
    # offered (and its buyer called) once.
    rounds_serialised: bool = True


GUARDS = Guards()


# The same statements with the guard taken out, for the switch above.
_FREE_UNLOCKED = without_guard(Q.free_kept_tickets, "FOR UPDATE")
_PIN_ANY = without_guard(Q.pin_tickets, " AND offer_id IS NULL AND status = 'AVAILABLE'")
_OFFER_ANY = without_guard(Q.make_offer, " AND status = 'waiting'")


class OfferRound(msgspec.Struct, frozen=True, kw_only=True):
    offered: list[UUID]  # entries offered tickets in this round, in line order
    ended: list[UUID]  # offers that ended (used or expired)
    released: int  # kept tickets put on sale to everyone


async def request_offers(redis: ArqRedis, *, event_id: UUID, force: bool = False) -> None:
    """Enqueue an offer round of the event when it may have waiting entries (or `force`)."""
    try:
        if force or await redis.exists(keys.waiting(event_id)):
            await redis.enqueue_job(keys.OFFER_JOB, str(event_id))
    except Exception:  # the sweep runs the round anyway
        log.exception("could not request an offer round for event %s", event_id)


async def offer_on_stock_change(redis: ArqRedis, event_id: UUID) -> None:
    """The stock listener (reservations.hooks.on_stock_change): tickets came back."""
    await request_offers(redis, event_id=event_id)


async def offer_returned_tickets(conn: Connection, redis: ArqRedis, *, event_id: UUID) -> OfferRound:
    """One offer round of the event (see the module docstring)."""
    settings = get_settings()
    try:
        async with conn.transaction():
            await tickets.set_lock_timeout(conn, settings.lock_timeout_ms)
            serialised = GUARDS.rounds_serialised
            if serialised:
                await conn.execute(Q.lock_event_waitlist, event_id)
            ended = await conn.fetch(Q.expire_due_offers, event_id)
            if ended:
                await conn.execute(Q.unpin_offers, [e["id"] for e in ended])
            free_query = Q.free_kept_tickets if serialised else _FREE_UNLOCKED
            pin_query = Q.pin_tickets if serialised else _PIN_ANY
            offer_query = Q.make_offer if serialised else _OFFER_ANY
            free = list(await conn.fetch(free_query, event_id))
            enabled = await conn.fetchval(Q.waitlist_enabled, event_id)
            made: list[Any] = []
            waiting: list[Any] = []
            if free and enabled:
                waiting = list(await conn.fetch(Q.waiting_entries, event_id, ENTRIES_PER_ROUND))
                for entry in waiting:
                    if not free:
                        break
                    wanted = entry["ticket_type"]
                    match = [t for t in free if wanted is None or t["section"] == wanted][: entry["quantity"]]
                    if not match:
                        continue
                    ids = [t["id"] for t in match]
                    taken = set(ids)
                    free = [t for t in free if t["id"] not in taken]
                    pinned = int((await conn.execute(pin_query, entry["id"], ids)).split()[-1])
                    if pinned == 0:
                        continue
                    ttl = settings.waitlist_offer_ttl_s
                    offer = await conn.fetchrow(offer_query, entry["id"], pinned, ttl)
                    if offer is not None:
                        made.append(offer)
            # Left over: no waiting entry wants them (unless the page of entries was full).
            released = 0
            if free and len(waiting) < ENTRIES_PER_ROUND:
                released = int((await conn.execute(Q.release_kept, [t["id"] for t in free])).split()[-1])
            still_waiting = await conn.fetchval(Q.any_waiting, event_id)
            name = await conn.fetchval(Q.event_name, event_id) if made else ""
    except asyncpg.LockNotAvailableError:
        log.info("another offer round of event %s is running; it will do this one's work", event_id)
        return OfferRound(offered=[], ended=[], released=0)
    await _after_round(
        redis, event_id=event_id, name=name, made=made, ended=ended, released=released, waiting=still_waiting
    )
    return OfferRound(offered=[m["id"] for m in made], ended=[e["id"] for e in ended], released=released)


async def _after_round(
    redis: ArqRedis,
    *,
    event_id: UUID,
    name: str,
    made: list[Any],
    ended: list[Any],
    released: int,
    waiting: bool,
) -> None:
    """Expiry jobs, messages and emails of the new offers; the stock change of released
    tickets. Committed is committed: failures are logged (the sweep ends offers anyway)."""
    try:
        if not waiting:
            await redis.delete(keys.waiting(event_id))
        publisher = publisher_for(redis)
        for offer in made:
            token = encode_offer(
                entry_id=offer["id"], event_id=event_id, expires_at=offer["offer_expires_at"]
            )
            link = checkout_url(event_id=event_id, offer_token=token)
            await redis.enqueue_job(
                keys.EXPIRE_OFFER_JOB,
                str(event_id),
                _job_id=keys.expire_offer_job_id(offer["id"]),
                _defer_until=offer["offer_expires_at"],
            )
            message = {
                "type": "waitlist_offer",
                "event_id": str(event_id),
                "entry_id": str(offer["id"]),
                "offered_quantity": offer["offered_quantity"],
                "offer_expires_at": offer["offer_expires_at"].isoformat(),
                "offer_token": token,
                "checkout_url": link,
            }
            if offer["customer_id"] is not None:
                await publisher.publish(reservation_keys.customer_channel(offer["customer_id"]), message)
            if offer["visitor_id"] is not None:  # the waiting room's queue socket (hooks)
                await hooks.visitor_offered(redis, event_id, offer["visitor_id"], message)
            await queue_mail(redis, offer_mail(offer, event_name=name, link=link))
        for entry in ended:
            log.info("waitlist offer %s of event %s ended %s", entry["id"], event_id, entry["status"])
        if released:
            await stock.stock_changed(redis, event_id=event_id)
    except Exception:
        log.exception("after-commit work of an offer round of event %s failed", event_id)


def offer_mail(offer: Any, *, event_name: str, link: str) -> Mail:
    minutes = max(1, get_settings().waitlist_offer_ttl_s // 60)
    count = offer["offered_quantity"]
    text = (
        f"Hello,\n\nA ticket came back for {event_name}, and you are next on its waitlist: "
        f"{count} ticket(s) are kept for you until {offer['offer_expires_at']:%H:%M:%S} UTC "
        f"(about {minutes} minute(s)).\n\nBuy them here: {link}\n\n"
        "After that time they go to the next person in line.\n"
    )
    return Mail(
        to=offer["email"],
        subject=f"Your turn from the waitlist: {event_name}",
        text=text,
        kind="waitlist_offer",
    )


async def sweep_offers(conn: Connection, redis: ArqRedis) -> int:
    """Run a round for every event with an offer past its time or a kept ticket not yet
    offered (the safety net behind the jobs). Returns how many rounds ran."""
    events = [r["event_id"] for r in await conn.fetch(Q.events_with_offer_work)]
    for event_id in events:
        await offer_returned_tickets(conn, redis, event_id=event_id)
    return len(events)

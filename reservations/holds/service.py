"""Holds: tickets kept for a customer for `hold_ttl_s`, then confirmed, cancelled or expired.

A hold ends exactly once. Every decision on a hold (confirm, cancel, expiry) first locks
the hold row and acts only while its status is still `active`, so whichever decision takes
the lock first wins and the others find the hold ended. Locks are always taken in one
order — hold row, then allowance rows, then ticket rows — so these decisions never
deadlock each other or a new hold request (allowance, then tickets).

Confirm: reserve → charge → settle. Reserve is a short transaction that locks the hold and
checks it is active and not past `expires_at`; it commits before the charge. The card is
charged with no transaction, row lock or pooled connection open (DESIGN.md, Faults). Settle
is a second short transaction that locks the hold again and books it only if it is still
active and not overdue; otherwise expiry won (docs/decisions/0011) and the charge is
refunded after the commit.

The provider Idempotency-Key is derived from the hold id and the number of declined
attempts so far. A retry, a replay or a crash between the charge and the settle reuses the
same key, so the provider never captures twice; only a decline (which captured nothing)
moves on to a fresh key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from arq.connections import ArqRedis

from core.auth import Principal
from core.config import get_settings
from core.db import Connection, queries_beside
from core.errors import BadRequest, Busy, Forbidden
from core.ops import HOLDS
from core.realtime import publisher_for
from reservations import hooks, keys
from reservations.errors import (
    EventNotFound,
    HoldNotActive,
    HoldNotExtendable,
    HoldNotFound,
    NotOnSale,
)
from reservations.holds.schemas import HeldTicket, Hold
from reservations.inventory import service as tickets
from reservations.inventory import stock

Q = queries_beside(__file__)

log = logging.getLogger("crowdpass.holds")

SWEEP_BATCH = 500
EARLY_RUN_WAIT_S = 5.0


# ---------------------------------------------------------------------------- helpers


def _ticket_order(row: Any) -> tuple[Any, ...]:
    """The order of a hold's tickets; its first `half_price_count` tickets are half price.
    Computed here, never by SQL collation, so every reader agrees."""
    return (
        row["section"] is not None,
        row["section"] or "",
        row["row_label"] is not None,
        row["row_label"] or "",
        row["seat_number"] is not None,
        row["seat_number"] or 0,
        row["id"],
    )


def _priced(rows: Sequence[Any], half_count: int) -> list[HeldTicket]:
    ordered = sorted(rows, key=_ticket_order)
    return [
        HeldTicket(
            id=r["id"],
            section=r["section"],
            row=r["row_label"],
            number=r["seat_number"],
            price_cents=r["price_cents"] // 2 if i < half_count else r["price_cents"],
            half_price=i < half_count,
        )
        for i, r in enumerate(ordered)
    ]


def _render(hold: Any, held: list[HeldTicket]) -> Hold:
    now = dt.datetime.now(dt.UTC)
    left = (hold["expires_at"] - now).total_seconds() if hold["status"] == "active" else 0.0
    return Hold(
        id=hold["id"],
        event_id=hold["event_id"],
        customer_id=hold["customer_id"],
        status=hold["status"],
        expires_at=hold["expires_at"],
        seconds_left=max(0, math.ceil(left)),
        quantity=hold["quantity"],
        half_price=hold["half_price_count"],
        tickets=held,
        total_cents=hold["total_cents"],
        created_at=hold["created_at"],
        ended_at=hold["ended_at"],
        extended_at=hold.get("extended_at"),
        extension_s=hold.get("extension_s"),
    )


async def _load(conn: Connection, hold: Any) -> Hold:
    rows = await conn.fetch(Q.hold_tickets, hold["id"])
    return _render(hold, _priced(rows, hold["half_price_count"]))


async def _after_commit(
    redis: ArqRedis, *, event_ids: set[UUID], holds: Sequence[Hold] = (), expired: bool = False
) -> None:
    """Tell the rest of the system; PostgreSQL already holds the truth, so a failure here
    is logged, not raised (the stock cache expires and the reconcile job repairs it).
    `expired`: the holds ended by expiry, which the expiry listeners hear of first (the
    waiting room's grace offer is in place before the tickets are offered to the next)."""
    try:
        if expired:
            for hold in holds:
                await hooks.hold_expired(redis, hold.event_id, hold.customer_id)
        for event_id in event_ids:
            await stock.stock_changed(redis, event_id=event_id)
        publisher = publisher_for(redis)
        for hold in holds:
            await publisher.publish(keys.customer_channel(hold.customer_id), {"type": "hold", "hold": hold})
    except Exception:  # a committed change stays committed; see the docstring
        log.exception("after-commit notifications failed for events %s", sorted(map(str, event_ids)))


async def _release(conn: Connection, hold: Any) -> None:
    """Give back an ended hold's allowance, then its tickets (lock order: allowance, tickets)."""
    await tickets.release_allowance(
        conn, customer_id=hold["customer_id"], event_id=hold["event_id"], quantity=hold["quantity"]
    )
    released = await tickets.release_hold(conn, hold_id=hold["id"])
    if released != hold["quantity"]:
        log.error("hold %s released %d tickets, expected %d", hold["id"], released, hold["quantity"])


async def _lock(conn: Connection, hold_id: UUID) -> Any:
    """The hold's row, locked for the caller's transaction (None when unknown), waiting at
    most LOCK_TIMEOUT_MS for another request deciding it (then Busy, 503)."""
    await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
    try:
        return await conn.fetchrow(Q.lock_hold, hold_id)
    except asyncpg.LockNotAvailableError:
        raise Busy("Another request is deciding this hold right now; retry shortly.") from None


async def _lock_own(conn: Connection, hold_id: UUID, principal: Principal, *, organizer_may: bool) -> Any:
    """`_lock`, for a caller who must own the hold (or be the organizer, when allowed)."""
    hold = await _lock(conn, hold_id)
    if hold is None:
        raise HoldNotFound()
    _check_owner(hold, principal, organizer_may=organizer_may)
    return hold


def _check_owner(hold: Any, principal: Principal, *, organizer_may: bool) -> None:
    if principal.customer_id == hold["customer_id"]:
        return
    if organizer_may and principal.is_admin:
        return
    raise Forbidden("This hold belongs to another customer.")


async def _schedule_expiry(redis: ArqRedis, hold: Hold, *, extended: bool = False) -> None:
    """The hold's own expiry job at its `expires_at` (a second one after an extension)."""
    try:
        await redis.enqueue_job(
            keys.EXPIRE_HOLD_JOB,
            str(hold.id),
            _job_id=keys.expire_hold_job_id(hold.id, extended=extended),
            _defer_until=hold.expires_at,
        )
    except Exception:  # the sweeper expires the hold even without its job
        log.exception("could not schedule the expiry of hold %s", hold.id)


# ---------------------------------------------------------------------------- create


async def hold_tickets(
    conn: Connection,
    redis: ArqRedis,
    *,
    event_id: UUID,
    customer_id: UUID,
    quantity: int | None = None,
    seat_ids: Sequence[UUID] | None = None,
    half_price: int = 0,
) -> Hold:
    """Hold `quantity` any tickets or the named seats for the event's `hold_ttl_s`.

    Raises EventNotFound, NotOnSale, LimitReached, SoldOut, SeatNotFound, SeatTaken.
    """
    count = quantity if quantity is not None else len(seat_ids or ())
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
        event = await conn.fetchrow(Q.hold_event_terms, event_id)
        if event is None:
            raise EventNotFound()
        if event["closed"] or event["before_sale"]:
            raise NotOnSale()
        if half_price and not event["half_price"]:
            raise BadRequest("This event sells no half-price tickets.", field="half_price")
        await tickets.take_allowance(
            conn, customer_id=customer_id, event_id=event_id, quantity=count, limit=event["max_per_customer"]
        )
        if seat_ids is None:
            claimed = await tickets.claim_any(conn, event_id=event_id, quantity=count)
        else:
            claimed = await tickets.claim_seats(conn, event_id=event_id, seat_ids=seat_ids)
        held = _priced(claimed, half_price)
        total = sum(t.price_cents for t in held)
        hold = await conn.fetchrow(
            Q.insert_hold, event_id, customer_id, count, half_price, total, float(event["hold_ttl_s"])
        )
        await tickets.mark_held(
            conn, ticket_ids=[t.id for t in held], hold_id=hold["id"], customer_id=customer_id
        )
    result = _render(hold, held)
    HOLDS.labels("created").inc()
    await _schedule_expiry(redis, result)
    await _after_commit(redis, event_ids={event_id}, holds=[result])
    return result


# ---------------------------------------------------------------------------- read, cancel


async def get_hold(conn: Connection, *, hold_id: UUID, principal: Principal) -> Hold:
    """The hold, to its customer or the organizer."""
    hold = await conn.fetchrow(Q.get_hold, hold_id)
    if hold is None:
        raise HoldNotFound()
    _check_owner(hold, principal, organizer_may=True)
    return await _load(conn, hold)


async def cancel_hold(conn: Connection, redis: ArqRedis, *, hold_id: UUID, principal: Principal) -> None:
    """Put an active hold's tickets back on sale. Ending an already ended hold (cancelled or
    expired) is a no-op; a confirmed one raises HoldNotActive."""
    async with conn.transaction():
        hold = await _lock_own(conn, hold_id, principal, organizer_may=True)
        if hold["status"] == "confirmed":
            raise HoldNotActive("This hold is confirmed; its tickets are sold.")
        if hold["status"] != "active":
            return
        # A hold past its expiry that the expiry job has not reached yet ends as expired.
        status = "expired" if hold["overdue"] else "cancelled"
        ended = await conn.fetchrow(Q.end_hold, hold_id, status, None)
        await _release(conn, ended)
    HOLDS.labels(status).inc()
    await _after_commit(redis, event_ids={hold["event_id"]}, holds=[_render(ended, [])])


# ---------------------------------------------------------------------------- extend


async def extend_hold(conn: Connection, redis: ArqRedis, *, hold_id: UUID, principal: Principal) -> Hold:
    """Give the owner's active hold the event's extension (`hold_extension_s`, by default its
    `hold_ttl_s`), once. The expiry job is deferred again to the new `expires_at`; the first
    one, at the old time, finds the hold not yet due and leaves it; the sweeper and confirm
    read `expires_at` and so honour it by themselves.

    Raises HoldNotFound, Forbidden (not the owner, also not the organizer) and
    HoldNotExtendable (ended, overdue, extended already, or the event allows none).
    """
    async with conn.transaction():
        hold = await _lock_own(conn, hold_id, principal, organizer_may=False)
        if hold["status"] != "active" or hold["overdue"]:
            raise HoldNotExtendable("This hold has ended; its tickets are back on sale.")
        if hold["extended_at"] is not None:
            raise HoldNotExtendable("This hold was extended once already; a hold is extended only once.")
        extended = await conn.fetchrow(Q.extend_hold, hold_id)
        if extended is None:
            raise HoldNotExtendable("The organizer of this event does not allow extending holds.")
        result = await _load(conn, extended)
    HOLDS.labels("extended").inc()
    await _schedule_expiry(redis, result, extended=True)
    await _after_commit(redis, event_ids=set(), holds=[result])
    return result


# ---------------------------------------------------------------------------- expiry


async def expire_hold(conn: Connection, redis: ArqRedis, *, hold_id: UUID) -> bool:
    """Expire the hold if it is still active and overdue; True when this call expired it.

    A job that runs a moment before `expires_at` (clocks differ by milliseconds) waits for
    it once. A hold locked by a confirm in progress is left to that confirm: when the
    confirm fails, the sweeper expires the hold on its next run.
    """
    for _ in range(2):
        async with conn.transaction():
            await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
            try:
                ended = await conn.fetchrow(Q.expire_hold, hold_id)
            except asyncpg.LockNotAvailableError:
                log.info("hold %s is locked by another decision; the sweeper will retry", hold_id)
                return False
            if ended is not None:
                await _release(conn, ended)
        if ended is not None:
            HOLDS.labels("expired").inc()
            await _after_commit(
                redis, event_ids={ended["event_id"]}, holds=[_render(ended, [])], expired=True
            )
            return True
        due_in = await conn.fetchval(Q.hold_due_in, hold_id)
        if due_in is None or due_in <= 0 or due_in > EARLY_RUN_WAIT_S:
            return False
        await asyncio.sleep(due_in + 0.01)
    return False


async def expire_holds(conn: Connection, redis: ArqRedis, *, batch: int = SWEEP_BATCH) -> int:
    """Expire every overdue active hold (the safety net behind each hold's own job).

    Skips holds another transaction has locked. Returns how many holds it expired.
    """
    total = 0
    while True:
        try:
            async with conn.transaction():
                await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
                ended = await conn.fetch(Q.expire_overdue_holds, batch)
                # Allowances in one fixed order, then tickets: no deadlock with anyone.
                returned: dict[tuple[UUID, UUID], int] = {}
                for h in ended:
                    pair = (h["customer_id"], h["event_id"])
                    returned[pair] = returned.get(pair, 0) + h["quantity"]
                for (customer_id, event_id), quantity in sorted(returned.items()):
                    await tickets.release_allowance(
                        conn, customer_id=customer_id, event_id=event_id, quantity=quantity
                    )
                for h in ended:
                    await tickets.release_hold(conn, hold_id=h["id"])
        except asyncpg.LockNotAvailableError:
            log.warning("sweep stopped at a lock timeout after expiring %d holds", total)
            return total
        if ended:
            HOLDS.labels("expired").inc(len(ended))
            await _after_commit(
                redis,
                event_ids={h["event_id"] for h in ended},
                holds=[_render(h, []) for h in ended],
                expired=True,
            )
        total += len(ended)
        if len(ended) < batch:
            return total

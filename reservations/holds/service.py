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
import hashlib
import logging
import math
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from arq.connections import ArqRedis

from core import idempotency
from core.auth import Principal
from core.config import get_settings
from core.db import Connection, queries_beside, without_guard
from core.errors import BadRequest, Busy, Forbidden
from core.ops import HOLDS
from core.realtime import publisher_for
from reservations import hooks, keys
from reservations.codes import service as codes
from reservations.errors import (
    EventNotFound,
    HoldNotActive,
    HoldNotExtendable,
    HoldNotFound,
    LimitReached,
    NotOnSale,
    SoldOut,
    TicketTypeMismatch,
    UnknownTicketType,
)
from reservations.holds.schemas import HeldTicket, Hold, HoldCreate, HoldPage
from reservations.inventory import service as tickets
from reservations.inventory import stock
from reservations.waitlist import admission as waitlist

Q = queries_beside(__file__)

log = logging.getLogger("crowdpass.holds")

SWEEP_BATCH = 500
CLAIM_ATTEMPTS = 4
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
    rows = await conn.fetch(Q.tickets_of_hold, hold["id"])
    [priced] = await codes.price_holds(conn, [_render(hold, _priced(rows, hold["half_price_count"]))])
    return priced


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
    """Give back an ended hold's allowances, tickets and code use (`_release_all`)."""
    await _release_all(conn, [hold])


async def _release_all(conn: Connection, ended: Sequence[Any]) -> None:
    """Give back what ended holds took, in the lock order of every hold decision: the
    customers' allowances (in one fixed order, summed per customer and event), their type
    allowances, the tickets, then the code uses."""
    returned: dict[tuple[UUID, UUID], int] = {}
    for h in ended:
        pair = (h["customer_id"], h["event_id"])
        returned[pair] = returned.get(pair, 0) + h["quantity"]
    for (customer_id, event_id), quantity in sorted(returned.items()):
        await tickets.release_allowance(conn, customer_id=customer_id, event_id=event_id, quantity=quantity)
    hold_ids = [h["id"] for h in ended]
    await tickets.release_type_allowances(conn, hold_ids=hold_ids)
    for h in ended:
        released = await tickets.release_hold(conn, hold_id=h["id"])
        if released != h["quantity"]:
            log.error("hold %s released %d tickets, expected %d", h["id"], released, h["quantity"])
    await codes.release_uses(conn, hold_ids=hold_ids)


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


# ---------------------------------------------------------------------------- create


class _Again(Exception):
    """Fewer tickets claimed than asked while others are only locked by claims in flight."""


_CLAIM_ANY_LOCK = "FOR UPDATE SKIP LOCKED"
_MARK_GUARD = " AND t.status = 'AVAILABLE'"
_KEPT_GUARD = "AND (NOT waitlist_kept OR offer_id = $9::uuid)"


def _take_query() -> str:
    """`Q.hold_tickets`, or with the guards tests switch off (inventory.GUARDS) taken out."""
    query = Q.hold_tickets
    if not tickets.GUARDS.claim_skip_locked:
        query = without_guard(query, _CLAIM_ANY_LOCK)
    if not tickets.GUARDS.book_only_available:
        query = without_guard(query, _MARK_GUARD)
    if not tickets.GUARDS.skip_waitlist_kept:
        query = without_guard(query, _KEPT_GUARD, "AND ($9::uuid IS NULL OR true)")
    return query


async def _unguarded_limit(conn: Connection, *, event_id: UUID, customer_id: UUID, count: int) -> int | None:
    """None (the statement counts against the event's limit) unless a test switched the
    allowance guard off: then the limit is checked here first and counted later."""
    if tickets.GUARDS.allowance_upsert:
        return None
    limit = await conn.fetchval(Q.event_limit, event_id) or 0
    before = await conn.fetchval(Q.customer_allowance, customer_id, event_id) or 0
    return 2**31 - 1 if before + count <= limit else -1


async def _refuse(
    conn: Connection,
    v: Any,
    *,
    event_id: UUID,
    count: int,
    seat_ids: Sequence[UUID] | None,
    ticket_type: str | None,
    last: bool,
) -> None:
    """Raise why `Q.hold_tickets` held nothing (`v`: its verdict columns)."""
    if not v["found"]:
        raise EventNotFound()
    if not v["type_found"]:
        raise UnknownTicketType(f"This event has no ticket type {ticket_type!r}.")
    if not v["on_sale"]:
        raise NotOnSale()
    if not v["sellable"]:
        raise BadRequest("This event sells no half-price tickets.", field="half_price")
    if not v["allowed"]:
        raise LimitReached(f"At most {v['max_per_customer']} ticket(s) per customer for this event.")
    if v["type_over"] is not None:
        raise LimitReached(f"At most {v['type_limit']} {v['type_over']} ticket(s) per customer.")
    if seat_ids is not None:
        if v["other_type"]:
            raise TicketTypeMismatch(f"A requested seat is not a {ticket_type} ticket.")
        if v["closed_type"]:
            raise NotOnSale("A requested seat's ticket type is not on sale now.")
        await tickets.claim_seats(conn, event_id=event_id, seat_ids=seat_ids)  # raises which seat
    elif v["claimed"] < count and not last:
        left = await conn.fetchval(tickets.Q.count_available, event_id, ticket_type)
        if left > v["claimed"]:  # some only locked by claims in flight, which may roll back
            raise _Again()
    raise SoldOut()


async def hold_tickets(
    conn: Connection,
    redis: ArqRedis,
    *,
    event_id: UUID,
    customer_id: UUID,
    request: HoldCreate,
    admission_token: str | None = None,
    visitor_token: str | None = None,
    idempotency_key: str | None = None,
) -> Hold:
    """The plugged-in admission check (`hooks.admission_check`), then `take_hold`; with an
    Idempotency-Key (per customer) both run once: the same key and body get the first
    answer again, the same hold or refusal; another body is refused (KeyReused, 422).
    A duplicate arriving while the first runs waits for its answer."""

    async def admit_and_hold() -> Hold:
        await codes.limit_tries(redis, customer_id=customer_id, code=request.code)
        # A waitlist offer's admission stands in for the waiting room's (reservations/waitlist/),
        # and so does a presale code before the sale opens (reservations/codes/).
        offer_id = await waitlist.admit_offer(
            conn, event_id=event_id, customer_id=customer_id, token=admission_token
        )
        if offer_id is None and not await codes.presale_pass(conn, event_id=event_id, code=request.code):
            await hooks.admission_check(
                conn,
                redis,
                event_id=event_id,
                customer_id=customer_id,
                token=admission_token,
                visitor_token=visitor_token,
            )
        return await take_hold(
            conn, redis, event_id=event_id, customer_id=customer_id, request=request, offer_id=offer_id
        )

    if idempotency_key is None:
        return await admit_and_hold()
    digest = hashlib.sha256(idempotency.check_key(idempotency_key).encode()).hexdigest()[:32]
    return await idempotency.run_once(
        redis,
        keys.hold_idempotency(customer_id, digest),
        idempotency.fingerprint(f"hold:{event_id}", _request_bytes(request)),
        admit_and_hold,
        status=201,
        encode=_hold_enc.encode,
        decode=_hold_dec.decode,
    )


_request_enc = msgspec.json.Encoder()


def _request_bytes(request: HoldCreate) -> bytes:
    """The body as the key's fingerprint reads it: without `ticket_type` or `code` when
    none was given, so a key stored before types and codes existed keeps its fingerprint."""
    fields = msgspec.structs.asdict(request)
    for name in ("ticket_type", "code"):
        if fields.get(name) is None:
            del fields[name]
    return _request_enc.encode(fields)


_hold_enc = msgspec.json.Encoder()
_hold_dec = msgspec.json.Decoder(Hold)


async def take_hold(
    conn: Connection,
    redis: ArqRedis,
    *,
    event_id: UUID,
    customer_id: UUID,
    request: HoldCreate,
    offer_id: UUID | None = None,
) -> Hold:
    """Hold `quantity` any tickets or the named seats for the event's `hold_ttl_s`.

    One statement does the work (`Q.hold_tickets`: terms, allowance, claim, hold row,
    tickets marked) in a short transaction, and one batched Redis step follows the commit
    (`_after_create`). Raises EventNotFound, NotOnSale, LimitReached, SoldOut,
    SeatNotFound, SeatTaken.
    """
    count, seat_ids, half_price = request.count, request.seat_ids, request.half_price
    named = sorted(set(seat_ids)) if seat_ids is not None else None
    for attempt in range(CLAIM_ATTEMPTS):
        try:
            async with conn.transaction():
                await conn.execute(Q.hold_transaction, f"{get_settings().lock_timeout_ms}ms")
                limit = await _unguarded_limit(conn, event_id=event_id, customer_id=customer_id, count=count)
                if named is not None and not tickets.GUARDS.seats_in_id_order:
                    await tickets.claim_seats(conn, event_id=event_id, seat_ids=seat_ids or ())
                code = await codes.read_code(conn, event_id=event_id, code=request.code)
                presale = code is not None and code.presale
                rows = await conn.fetch(
                    _take_query(),
                    event_id,
                    customer_id,
                    count,
                    named,
                    half_price,
                    limit,
                    request.ticket_type,
                    presale,
                    offer_id,
                )
                if rows[0]["marked"] != count:
                    await _refuse(
                        conn,
                        rows[0],
                        event_id=event_id,
                        count=count,
                        seat_ids=named,
                        ticket_type=request.ticket_type,
                        last=attempt == CLAIM_ATTEMPTS - 1,
                    )
                if code is not None:
                    held = codes.discounted(
                        _priced([r for r in rows if r["id"] is not None], half_price), code
                    )
                    total = await conn.fetchval(Q.lower_hold_total, rows[0]["hold_id"], held[1])
                    await codes.take_use(
                        conn, pending=code, hold_id=rows[0]["hold_id"], customer_id=customer_id, held=held
                    )
            break
        except _Again:
            await asyncio.sleep(0.01 * (attempt + 1))
    hold = {**dict(rows[0]), "id": rows[0]["hold_id"]}
    result = _render(hold, _priced([r for r in rows if r["id"] is not None], half_price))
    if code is not None:
        result = msgspec.structs.replace(
            result, tickets=held[0], total_cents=total, code=code.rule.code, discount_cents=held[1]
        )
    HOLDS.labels("created").inc()
    await _after_create(redis, result)
    return result


async def _after_create(redis: ArqRedis, hold: Hold) -> None:
    """A new hold's Redis work, sent together: the stock version with the coalesced live
    push (`stock.stock_changed`), and the customer's message. Failures are logged: the
    counters' snapshot lapses within `stock.SNAPSHOT_TTL_MS` and the reconcile job repairs
    the gate's stock. Nothing schedules the hold's expiry: the per-second sweep
    (`expire_holds`) expires it (ADR 0022)."""
    message = {"type": "hold", "hold": hold}
    try:
        await asyncio.gather(
            stock.stock_changed(redis, event_id=hold.event_id, tickets_back=False),
            publisher_for(redis).publish(keys.customer_channel(hold.customer_id), message),
        )
    except Exception:  # committed is committed; see the docstring
        log.exception("after-commit work of new hold %s failed", hold.id)


# ---------------------------------------------------------------------------- read, cancel


async def get_hold(conn: Connection, *, hold_id: UUID, principal: Principal) -> Hold:
    """The hold, to its customer or the organizer."""
    hold = await conn.fetchrow(Q.get_hold, hold_id)
    if hold is None:
        raise HoldNotFound()
    _check_owner(hold, principal, organizer_may=True)
    return await _load(conn, hold)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _cursor(value: str | None) -> tuple[dt.datetime | None, UUID | None]:
    """`<created_at in µs>.<hold id>` of the last hold of the previous page, or a 400."""
    if value is None:
        return None, None
    try:
        micros, _, hold_id = value.partition(".")
        return _EPOCH + dt.timedelta(microseconds=int(micros)), UUID(hold_id)
    except (ValueError, OverflowError, OSError):
        raise BadRequest("Not a cursor this listing gave.", field="cursor") from None


async def list_holds(
    conn: Connection, *, customer_id: UUID, limit: int, cursor: str | None = None
) -> HoldPage:
    """The customer's holds, newest first, `limit` per page (not the holds orders reserve
    under)."""
    after, after_id = _cursor(cursor)
    rows = await conn.fetch(Q.customer_holds, customer_id, limit + 1, after, after_id)
    page = rows[:limit]
    by_hold: dict[UUID, list[Any]] = {h["id"]: [] for h in page}
    for t in await conn.fetch(Q.holds_tickets, list(by_hold)):
        by_hold[t["hold_id"]].append(t)
    holds = await codes.price_holds(
        conn, [_render(h, _priced(by_hold[h["id"]], h["half_price_count"])) for h in page]
    )
    last = page[-1] if len(rows) > limit else None
    micros = (last["created_at"] - _EPOCH) // _MICROSECOND if last else 0
    next_cursor = f"{micros}.{last['id']}" if last else None
    return HoldPage(holds=holds, next_cursor=next_cursor)


async def cancel_hold(conn: Connection, redis: ArqRedis, *, hold_id: UUID, principal: Principal) -> None:
    """Put an active hold's tickets back on sale. Ending an already ended hold (cancelled or
    expired) is a no-op; a confirmed one raises HoldNotActive."""
    async with conn.transaction():
        hold = await _lock_own(conn, hold_id, principal, organizer_may=True)
        if hold["status"] == "confirmed":
            raise HoldNotActive("This hold is confirmed; its tickets are sold.")
        if hold["status"] != "active":
            return
        # A hold past its expiry that the sweep has not reached yet ends as expired.
        status = "expired" if hold["overdue"] else "cancelled"
        ended = await conn.fetchrow(Q.end_hold, hold_id, status, None)
        await _release(conn, ended)
    HOLDS.labels(status).inc()
    await _after_commit(redis, event_ids={hold["event_id"]}, holds=[_render(ended, [])])


# ---------------------------------------------------------------------------- extend


async def extend_hold(conn: Connection, redis: ArqRedis, *, hold_id: UUID, principal: Principal) -> Hold:
    """Give the owner's active hold the event's extension (`hold_extension_s`, by default its
    `hold_ttl_s`), once. The sweep and confirm read `expires_at` and so honour it by
    themselves (an expiry job an earlier release queued finds the hold not yet due).

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
    await _after_commit(redis, event_ids=set(), holds=[result])
    return result


# ---------------------------------------------------------------------------- expiry


async def expire_hold(conn: Connection, redis: ArqRedis, *, hold_id: UUID) -> bool:
    """Expire the hold if it is still active and overdue; True when this call expired it.
    The per-second sweep (`expire_holds`) expires holds; this runs the `holds.expire` jobs
    an earlier release queued at each hold's `expires_at` (ADR 0022).

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
    """Expire every overdue active hold: run every second (`jobs/tasks/holds.py`), so a
    hold ends within about a second of its `expires_at` (ADR 0022).

    Skips holds another transaction has locked. Returns how many holds it expired.
    """
    total = 0
    while True:
        try:
            async with conn.transaction():
                await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
                ended = await conn.fetch(Q.expire_overdue_holds, batch)
                await _release_all(conn, ended)  # allowances in one fixed order: no deadlock
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

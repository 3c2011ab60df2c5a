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
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import httpx
import msgspec
from arq.connections import ArqRedis
from redis import exceptions as redis_exceptions

from core import idempotency, payments
from core.auth import Principal
from core.config import get_settings
from core.db import Connection, Pool, queries_beside
from core.errors import AppError, BadRequest, Busy, ErrorBody, Forbidden
from core.ops import HOLDS
from core.realtime import publisher_for
from reservations import keys
from reservations.customers import service as customers
from reservations.errors import (
    EventNotFound,
    HoldExpired,
    HoldNotActive,
    HoldNotFound,
    NotOnSale,
    PaymentDeclined,
    PaymentUnavailable,
)
from reservations.holds.schemas import HeldTicket, Hold, HoldConfirmed, Purchase
from reservations.inventory import service as tickets
from reservations.inventory import stock
from reservations.live import service as live

Q = queries_beside(__file__)

log = logging.getLogger("crowdpass.holds")

SWEEP_BATCH = 500
EARLY_RUN_WAIT_S = 5.0
PAYMENT_ATTEMPT_TTL_S = 2 * 24 * 3600
MAX_IDEMPOTENCY_KEY = 255
SETTLE_RETRY_WAITS_S = (0.05, 0.2)  # between settle tries when the hold row stays locked


# ---------------------------------------------------------------------------- helpers


def payment_key(hold_id: UUID, attempt: int) -> str:
    """The provider Idempotency-Key of a hold's charge: one per declined attempt."""
    return f"hold-{hold_id}-{attempt}"


def payment_description(hold_id: UUID) -> str:
    return f"CrowdPass hold {hold_id}"


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
    )


async def _load(conn: Connection, hold: Any) -> Hold:
    rows = await conn.fetch(Q.hold_tickets, hold["id"])
    return _render(hold, _priced(rows, hold["half_price_count"]))


async def _after_commit(redis: ArqRedis, *, event_ids: set[UUID], holds: Sequence[Hold] = ()) -> None:
    """Tell the rest of the system; PostgreSQL already holds the truth, so a failure here
    is logged, not raised (the stock cache expires and the reconcile job repairs it)."""
    try:
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
    try:
        return await conn.fetchrow(Q.lock_hold, hold_id)
    except asyncpg.LockNotAvailableError:
        raise Busy("Another request is deciding this hold right now; retry shortly.") from None


def _check_owner(hold: Any, principal: Principal, *, organizer_may: bool) -> None:
    if principal.customer_id == hold["customer_id"]:
        return
    if organizer_may and principal.is_admin:
        return
    raise Forbidden("This hold belongs to another customer.")


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
    try:
        await redis.enqueue_job(
            keys.EXPIRE_HOLD_JOB,
            str(result.id),
            _job_id=keys.expire_hold_job_id(result.id),
            _defer_until=result.expires_at,
        )
    except Exception:  # the sweeper expires the hold even without its job
        log.exception("could not schedule the expiry of hold %s", result.id)
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
        await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
        hold = await _lock(conn, hold_id)
        if hold is None:
            raise HoldNotFound()
        _check_owner(hold, principal, organizer_may=True)
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


# ---------------------------------------------------------------------------- confirm


def _idempotency_key(value: str | None) -> str:
    if value is None or not value.strip():
        raise BadRequest("The Idempotency-Key header is required.", field="Idempotency-Key")
    if len(value) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest(
            f"The Idempotency-Key header is at most {MAX_IDEMPOTENCY_KEY} characters.",
            field="Idempotency-Key",
        )
    return value


async def confirm_hold(
    pool: Pool,
    redis: ArqRedis,
    *,
    http: httpx.AsyncClient,
    hold_id: UUID,
    principal: Principal,
    card_number: str,
    idempotency_key: str | None,
) -> HoldConfirmed:
    """Pay for an active hold and turn its tickets into purchases.

    Takes the pool, not a connection: a connection is borrowed for the reserve and the
    settle steps only, never while the provider is charging the card.

    Idempotent per (hold, Idempotency-Key): a replay gets the first outcome again (the
    purchases, or the same 402, 409 or 410 refusal); the same key with another card is
    refused (422). Answers that leave the outcome open (502 provider unavailable, 503
    busy) are not stored, so the client can retry with the same key.
    """
    key = _idempotency_key(idempotency_key)
    hold = await pool.fetchrow(Q.get_hold, hold_id)
    if hold is None:
        raise HoldNotFound()
    _check_owner(hold, principal, organizer_may=False)
    scope = keys.confirm_idempotency(hold_id, key)
    fp = idempotency.fingerprint(f"confirm:{hold_id}", card_number.encode())
    stored = await idempotency.begin(redis, scope, fp)
    if stored is not None:
        return _replay(stored)
    try:
        confirmed = await _confirm(pool, redis, http=http, hold_id=hold_id, card_number=card_number)
    except AppError as exc:
        if exc.status_code >= 500:
            await asyncio.shield(idempotency.abandon(redis, scope))
            raise
        refusal = _refusal_enc.encode(ErrorBody(error=exc.code, detail=exc.detail, field=exc.field))
        await idempotency.finish(redis, scope, fp, status=exc.status_code, body=refusal)
        raise
    except BaseException:
        await asyncio.shield(idempotency.abandon(redis, scope))
        raise
    await idempotency.finish(redis, scope, fp, status=200, body=_confirmed_enc.encode(confirmed))
    return confirmed


_confirmed_enc = msgspec.json.Encoder()
_refusal_enc = msgspec.json.Encoder()
_confirmed_dec = msgspec.json.Decoder(HoldConfirmed)
_refusal_dec = msgspec.json.Decoder(ErrorBody)


class StoredRefusal(AppError):
    """The refusal a first confirm under this Idempotency-Key got, raised again as it was."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(body.detail, field=body.field)
        self.status_code = status  # type: ignore[misc]
        self.code = body.error  # type: ignore[misc]


def _replay(stored: idempotency.Stored) -> HoldConfirmed:
    if stored.status == 200:
        return _confirmed_dec.decode(stored.body)
    raise StoredRefusal(stored.status, _refusal_dec.decode(stored.body))


async def _confirm(
    pool: Pool, redis: ArqRedis, *, http: httpx.AsyncClient, hold_id: UUID, card_number: str
) -> HoldConfirmed:
    """Reserve (short transaction) → charge (nothing open) → settle (short transaction)."""
    hold = await _reserve_confirm(pool, redis, hold_id=hold_id)
    attempt = int(await redis.get(keys.hold_payment_attempt(hold_id)) or 0)
    charge_id = None
    if hold["total_cents"] > 0:
        charge_id = await _charge(redis, http=http, hold=hold, attempt=attempt, card_number=card_number)
    return await _settle_confirm(pool, redis, http=http, hold_id=hold_id, charge_id=charge_id)


async def _reserve_confirm(pool: Pool, redis: ArqRedis, *, hold_id: UUID) -> Any:
    """Lock the hold and check it may be paid for; commits before anything is charged.

    An active hold past `expires_at` whose expiry job has not run yet is expired here and
    answered 410: nothing is charged.
    """
    async with pool.acquire() as conn, conn.transaction():
        await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
        hold = await _lock(conn, hold_id)
        if hold is None:
            raise HoldNotFound()
        ended = None
        if hold["status"] == "active" and hold["overdue"]:
            ended = await conn.fetchrow(Q.expire_hold, hold_id)
            await _release(conn, ended)
    if ended is not None:
        HOLDS.labels("expired").inc()
        await _after_commit(redis, event_ids={hold["event_id"]}, holds=[_render(ended, [])])
        raise HoldExpired()
    if hold["status"] == "expired":
        raise HoldExpired()
    if hold["status"] != "active":
        raise HoldNotActive(f"This hold is already {hold['status']}.")
    return hold


async def _charge(
    redis: ArqRedis, *, http: httpx.AsyncClient, hold: Any, attempt: int, card_number: str
) -> str:
    """Charge the hold's total under its provider key for `attempt`; the charge id.

    Called with no transaction, lock or pooled connection open."""
    settings = get_settings()
    hold_id: UUID = hold["id"]
    try:
        charge = await payments.charge(
            http,
            amount_cents=hold["total_cents"],
            card_number=card_number,
            description=payment_description(hold_id),
            idempotency_key=payment_key(hold_id, attempt),
            retries=settings.payments_retries,
            timeout_s=settings.payments_timeout_s,
        )
    except payments.CardDeclined:
        await _next_attempt(redis, hold_id=hold_id, attempt=attempt)
        HOLDS.labels("declined").inc()
        raise PaymentDeclined() from None
    except payments.ProviderUnavailable:
        raise PaymentUnavailable() from None
    except payments.ProviderRejected as exc:
        log.warning("provider refused the charge of hold %s: %s", hold_id, exc)
        raise PaymentUnavailable(
            "The payment provider refused this attempt. If an earlier attempt with another "
            "card failed without an answer, retry with that card."
        ) from None
    return charge.id


async def _next_attempt(redis: ArqRedis, *, hold_id: UUID, attempt: int) -> None:
    """After a decline under `attempt` (nothing captured), let the next charge use a fresh
    provider key — only if no one moved the counter since: it never passes a key whose
    charge succeeded (one key, one charge at the provider), so a hold captures at most once
    however many confirms run at the same time."""
    key = keys.hold_payment_attempt(hold_id)
    async with redis.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(key)
            if int(await pipe.get(key) or 0) != attempt:
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, attempt + 1, ex=PAYMENT_ATTEMPT_TTL_S)
            await pipe.execute()
        except redis_exceptions.WatchError:
            pass  # a concurrent decline under the same key moved it already


async def _settle_confirm(
    pool: Pool, redis: ArqRedis, *, http: httpx.AsyncClient, hold_id: UUID, charge_id: str | None
) -> HoldConfirmed:
    """Lock the hold again and book it if it is still active and not past `expires_at`.

    Otherwise the hold ended while the card was being charged (expiry job, sweeper, a
    cancel, or this step finding it overdue): the charge, if any, is refunded after the
    commit and the answer is 410 (409 when it was cancelled or confirmed by another request).
    A charge that confirmed this hold through a concurrent request is never refunded.
    """
    async with pool.acquire() as conn:
        settled = await _settle_retrying(conn, hold_id=hold_id, charge_id=charge_id)
        hold, outcome, ended, held, bought = settled
        buyer_name = None
        if outcome == "confirmed_now":
            buyer_name = await customers.customer_name(conn, customer_id=hold["customer_id"])
    if outcome != "confirmed_now" and charge_id is not None and hold["payment_id"] != charge_id:
        await _refund(http, hold_id=hold_id, charge_id=charge_id)
    if outcome == "expired_now":
        HOLDS.labels("expired").inc()
        await _after_commit(redis, event_ids={hold["event_id"]}, holds=[_render(ended, [])])
        raise HoldExpired()
    if outcome == "expired":
        raise HoldExpired()
    if outcome != "confirmed_now":
        raise HoldNotActive(f"This hold is already {outcome}.")
    HOLDS.labels("confirmed").inc()
    by_ticket = {t.id: t for t in held}
    position = {t.id: i for i, t in enumerate(held)}
    purchases = [
        Purchase(
            id=p["id"],
            event_id=p["event_id"],
            customer_id=p["customer_id"],
            ticket_id=p["ticket_id"],
            section=by_ticket[p["ticket_id"]].section,
            row=by_ticket[p["ticket_id"]].row,
            number=by_ticket[p["ticket_id"]].number,
            price_cents=p["price_cents"],
            half_price=p["half_price"],
            created_at=p["created_at"],
        )
        for p in sorted(bought, key=lambda p: position[p["ticket_id"]])
    ]
    await _after_commit(redis, event_ids={hold["event_id"]}, holds=[_render(ended, held)])
    await live.announce_purchase(
        redis, event_id=hold["event_id"], buyer_name=buyer_name or "", at=bought[0]["created_at"]
    )
    return HoldConfirmed(
        hold_id=hold_id, payment_id=charge_id, total_cents=hold["total_cents"], purchases=purchases
    )


class _Settled(NamedTuple):
    hold: Any  # the row as locked, before this settle changed it
    outcome: str  # confirmed_now | expired_now | expired | cancelled | confirmed
    ended: Any  # the row this settle ended, if any
    held: list[HeldTicket]
    bought: list[Any]


async def _settle_retrying(conn: Connection, *, hold_id: UUID, charge_id: str | None) -> _Settled:
    """The settle transaction, tried again when the hold row stays locked past
    `lock_timeout` (a cancel or expiry deciding it): the card is charged by now."""
    for wait in (*SETTLE_RETRY_WAITS_S, None):
        try:
            return await _settle_once(conn, hold_id=hold_id, charge_id=charge_id)
        except Busy:
            if wait is None:
                log.error("hold %s: charge %s captured, hold still locked; not settled", hold_id, charge_id)
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


async def _settle_once(conn: Connection, *, hold_id: UUID, charge_id: str | None) -> _Settled:
    """One settle transaction."""
    held: list[HeldTicket] = []
    bought: list[Any] = []
    ended = None
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
        hold = await _lock(conn, hold_id)
        if hold is None:  # holds are never deleted
            raise RuntimeError(f"hold {hold_id} vanished during its confirm")
        outcome = hold["status"]
        if outcome == "active" and hold["overdue"]:
            # It expired while the card was being charged: expiry wins.
            ended = await conn.fetchrow(Q.expire_hold, hold_id)
            await _release(conn, ended)
            outcome = "expired_now"
        elif outcome == "active":
            held = _priced(await conn.fetch(Q.hold_tickets, hold_id), hold["half_price_count"])
            booked = await tickets.book_hold(conn, hold_id=hold_id)
            if len(booked) != hold["quantity"]:
                raise RuntimeError(f"hold {hold_id} booked {len(booked)} of {hold['quantity']} tickets")
            bought = await tickets.insert_purchases(
                conn,
                event_id=hold["event_id"],
                customer_id=hold["customer_id"],
                tickets=[(t.id, t.price_cents, t.half_price) for t in held],
                hold_id=hold_id,
            )
            ended = await conn.fetchrow(Q.end_hold, hold_id, "confirmed", charge_id)
            outcome = "confirmed_now"
    return _Settled(hold, outcome, ended, held, bought)


async def _refund(http: httpx.AsyncClient, *, hold_id: UUID, charge_id: str) -> None:
    """Give back a charge whose hold ended before it could be settled (idempotent at the
    provider). A refund that fails is logged for an operator; the hold's outcome stands."""
    settings = get_settings()
    try:
        await payments.refund(
            http,
            charge_id=charge_id,
            retries=settings.payments_retries,
            timeout_s=settings.payments_timeout_s,
        )
    except payments.PaymentError:
        log.exception("hold %s ended before its charge %s settled; REFUND FAILED", hold_id, charge_id)
        return
    HOLDS.labels("refunded").inc()
    log.warning("hold %s ended before its charge %s settled; charge refunded", hold_id, charge_id)


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
            await _after_commit(redis, event_ids={ended["event_id"]}, holds=[_render(ended, [])])
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
                redis, event_ids={h["event_id"] for h in ended}, holds=[_render(h, []) for h in ended]
            )
        total += len(ended)
        if len(ended) < batch:
            return total

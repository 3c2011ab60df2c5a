"""Refunds: a buyer cancels within the organizer's policy; the organizer refunds any
purchase or cancels the whole event.

Exactly once under retries and concurrency:
1. claim (one UPDATE, one winner; it fixes the amount and reason) and commit;
2. refund at the provider with nothing open, under the key `refund-<purchase id>` (the
   provider refunds once per key, so a retry after a crash cannot refund twice);
3. settle: mark the purchase refunded, put its ticket back on sale, give back the
   customer's allowance — one transaction, guarded by `refunded_at IS NULL`.
Then the stock hook (live counters, the waiting room), the order gate's stock and the
holder's notice. A claim whose process died is taken over after CLAIM_STALE_S.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from typing import Any

import httpx
from arq.connections import ArqRedis

from core import payments
from core.auth import Principal
from core.config import get_settings
from core.db import Connection, Pool, queries_beside
from reservations.codes import service as codes
from reservations.errors import EventNotFound, PaymentUnavailable
from reservations.etickets.errors import TicketNotFound
from reservations.inventory import service as inventory
from reservations.inventory.stock import cache_gate_stock, stock_changed
from reservations.mail import service as mail
from reservations.orders.service import refresh_event_meta
from reservations.refunds.errors import RefundInProgress, RefundNotAllowed
from reservations.refunds.keys import CANCEL_EVENT_JOB, cancel_event_job_id
from reservations.refunds.schemas import EventCancelled, Refund, RefundReason

Q = queries_beside(__file__)
log = logging.getLogger("crowdpass.refunds")

CLAIM_STALE_S = 30.0
CANCEL_BATCH = 100


@dataclasses.dataclass
class Guards:
    """The race guard of a refund, on in production; only tests switch it off
    (`without_guard` in tests/concurrency/conftest.py): then every caller claims, and each
    calls the provider under its own key."""

    refund_claim_once: bool = True


GUARDS = Guards()
_CLAIM_ALWAYS = Q.claim_refund.replace("AND (refund_claimed_at IS NULL OR", "AND (true OR")
assert Q.claim_refund != _CLAIM_ALWAYS


def provider_key(purchase_id: uuid.UUID) -> str:
    return f"refund-{purchase_id}"


def _view(row: Any) -> Refund:
    refund_cents = row["refund_cents"] or 0
    return Refund(
        ticket_id=row["id"],
        event_id=row["event_id"],
        state="refunded",
        reason=row["refund_reason"],
        price_cents=row["price_cents"],
        refund_cents=refund_cents,
        fee_cents=row["price_cents"] - refund_cents,
        refunded_at=row["refunded_at"],
        provider_refund_id=row["refund_id"],
    )


def _terms(row: Any, principal: Principal, now: dt.datetime) -> tuple[int, RefundReason]:
    """(amount to give back, reason) for this caller, or a refusal."""
    if principal.is_admin:
        return row["price_cents"], "organizer"
    if principal.customer_id != row["customer_id"]:
        raise TicketNotFound()
    until = row["buyer_cancel_until"]
    if row["cancelled_at"] is not None:
        raise RefundNotAllowed("The event is cancelled: every ticket is being refunded.")
    if until is None:
        raise RefundNotAllowed("The organizer does not let buyers cancel tickets of this event.")
    if now > until:
        raise RefundNotAllowed(f"Buyers could cancel until {until.isoformat()}.")
    if row["checked_in_at"] is not None:
        raise RefundNotAllowed("This ticket was used at the door.")
    return max(row["price_cents"] - row["cancel_fee_cents"], 0), "buyer"


async def refund_purchase(
    pool: Pool,
    redis: ArqRedis,
    *,
    http: httpx.AsyncClient,
    ticket_id: uuid.UUID,
    principal: Principal,
) -> Refund:
    """Refund one e-ticket (purchase). Asking again once it is refunded answers the same."""
    row = await pool.fetchrow(Q.get_refundable, ticket_id)
    if row is None:
        raise TicketNotFound()
    if not principal.is_admin and principal.customer_id != row["customer_id"]:
        raise TicketNotFound()
    if row["refunded_at"] is not None:
        return _view(row)
    amount, reason = _terms(row, principal, dt.datetime.now(dt.UTC))
    return await _refund(pool, redis, http=http, row=row, amount=amount, reason=reason)


async def _refund(
    pool: Pool, redis: ArqRedis, *, http: httpx.AsyncClient, row: Any, amount: int, reason: RefundReason
) -> Refund:
    purchase_id: uuid.UUID = row["id"]
    claim = Q.claim_refund if GUARDS.refund_claim_once else _CLAIM_ALWAYS
    claimed = await pool.fetchrow(claim, purchase_id, amount, reason, CLAIM_STALE_S)
    if claimed is None:
        now = await pool.fetchrow(Q.get_refundable, purchase_id)
        if now is not None and now["refunded_at"] is not None:
            return _view(now)
        raise RefundInProgress()
    refund_id = None
    if row["charge_id"] is not None and claimed["refund_cents"] > 0:
        refund_id = await _pay_back(
            pool, http, purchase_id=purchase_id, charge_id=row["charge_id"], amount=claimed["refund_cents"]
        )
    async with pool.acquire() as conn:
        settled = await _settle(conn, purchase_id=purchase_id, refund_id=refund_id)
        if settled is None:  # settled by a takeover meanwhile
            now = await conn.fetchrow(Q.get_refundable, purchase_id)
            return _view(now)
        available = await conn.fetchval(Q.count_available, row["event_id"])
        await _after_settle(
            conn, redis, event_id=row["event_id"], purchase_id=purchase_id, available=available
        )
        return _view(await conn.fetchrow(Q.get_refundable, purchase_id))


async def _pay_back(
    pool: Pool, http: httpx.AsyncClient, *, purchase_id: uuid.UUID, charge_id: str, amount: int
) -> str:
    """The provider refund, with no transaction or pooled connection open."""
    settings = get_settings()
    try:
        charge = await payments.refund(
            http,
            charge_id=charge_id,
            amount_cents=amount,
            idempotency_key=provider_key(purchase_id) if GUARDS.refund_claim_once else None,
            retries=settings.payments_retries,
            timeout_s=settings.payments_timeout_s,
        )
    except payments.PaymentError as exc:
        log.warning("refund of purchase %s (charge %s) failed: %s", purchase_id, charge_id, exc)
        await pool.execute(Q.unclaim_refund, purchase_id)
        raise PaymentUnavailable("The payment provider did not refund this time; retry shortly.") from None
    return charge.id


async def _settle(conn: Connection, *, purchase_id: uuid.UUID, refund_id: str | None) -> Any:
    async with conn.transaction():
        await inventory.set_lock_timeout(conn, get_settings().lock_timeout_ms)
        settled = await conn.fetchrow(Q.settle_refund, purchase_id, refund_id)
        if settled is None:
            return None
        await inventory.release_allowance(
            conn, customer_id=settled["customer_id"], event_id=settled["event_id"], quantity=1
        )
        await inventory.release_ticket_type_allowances(conn, ticket_ids=[settled["ticket_id"]])
        released = await inventory.release_booked(conn, ticket_ids=[settled["ticket_id"]])
        if released != 1:
            log.error("refund of purchase %s released %d tickets", purchase_id, released)
        await codes.release_refunded_use(conn, purchase_id=purchase_id)
    return settled


async def _after_settle(
    conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID, purchase_id: uuid.UUID, available: int
) -> None:
    """Committed: tell the rest of the system. A failure here is logged, not raised (the
    stock cache expires and the reconcile job repairs the gate)."""
    try:
        await cache_gate_stock(redis, event_id=event_id, available=available)
        await stock_changed(redis, event_id=event_id)
        await mail.queue_refund_notice(conn, redis, purchase_id=purchase_id)
    except Exception:
        log.exception("after-refund notifications failed for purchase %s", purchase_id)


async def refund_for_cancellation(
    pool: Pool, redis: ArqRedis, *, http: httpx.AsyncClient, purchase_id: uuid.UUID
) -> Refund | None:
    """Refund one purchase of a cancelled event in full (the cancel job); None when it is
    being refunded by someone else right now (the job comes back to it)."""
    row = await pool.fetchrow(Q.get_refundable, purchase_id)
    if row is None:
        return None
    if row["refunded_at"] is not None:
        return _view(row)
    try:
        return await _refund(
            pool, redis, http=http, row=row, amount=row["price_cents"], reason="event_cancelled"
        )
    except RefundInProgress:
        return None


async def cancel_event(conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID) -> EventCancelled:
    """Close the event for good and queue the refund of every purchase (a job: an event may
    have thousands). Cancelling again re-queues what is left (idempotent)."""
    cancelled_at = await conn.fetchval(Q.cancel_event, event_id)
    if cancelled_at is None:
        raise EventNotFound()
    left = await conn.fetchval(Q.count_unrefunded, event_id)
    await refresh_event_meta(conn, redis, event_id=event_id)  # the order gate refuses at once
    await stock_changed(redis, event_id=event_id)
    await redis.enqueue_job(CANCEL_EVENT_JOB, str(event_id), _job_id=cancel_event_job_id(event_id))
    return EventCancelled(event_id=event_id, cancelled_at=cancelled_at, purchases_to_refund=left)


async def refund_cancelled_event(
    pool: Pool, redis: ArqRedis, *, http: httpx.AsyncClient, event_id: uuid.UUID
) -> int:
    """Refund every purchase of a cancelled event; how many were refunded by this call.
    Raises PaymentUnavailable when the provider keeps failing (the job retries later)."""
    refunded = 0
    seen_busy: set[uuid.UUID] = set()
    while True:
        ids = [r["id"] for r in await pool.fetch(Q.unrefunded_purchases, event_id, CANCEL_BATCH)]
        todo = [i for i in ids if i not in seen_busy]
        if not todo:
            return refunded
        for purchase_id in todo:
            if await refund_for_cancellation(pool, redis, http=http, purchase_id=purchase_id) is None:
                seen_busy.add(purchase_id)  # someone else is refunding it right now
            else:
                refunded += 1

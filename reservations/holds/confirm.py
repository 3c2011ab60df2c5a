"""Confirming a hold: reserve, charge with nothing open, settle (docs/holds.md, ADR 0011).

Idempotent per (hold, Idempotency-Key); a charge that lands after the hold ended is refunded."""

from __future__ import annotations

import asyncio
import math
from typing import Any, NamedTuple
from uuid import UUID

import httpx
import msgspec
from arq.connections import ArqRedis
from redis import exceptions as redis_exceptions

from core import idempotency, payments
from core.auth import Principal
from core.config import get_settings
from core.db import Connection, Pool
from core.errors import Busy
from core.ops import HOLDS
from reservations import keys
from reservations.codes import service as codes
from reservations.customers import service as customers
from reservations.errors import (
    HoldExpired,
    HoldNotActive,
    HoldNotFound,
    PaymentDeclined,
    PaymentUnavailable,
)
from reservations.holds.schemas import HeldTicket, HoldConfirmed, Purchase
from reservations.holds.service import (
    Q,
    _after_commit,
    _check_owner,
    _lock,
    _priced,
    _release,
    _render,
    log,
)
from reservations.inventory import service as tickets
from reservations.live import service as live

PAYMENT_ATTEMPT_TTL_S = 2 * 24 * 3600
SETTLE_RETRY_WAITS_S = (0.05, 0.2)  # between settle tries when the hold row stays locked


def payment_key(hold_id: UUID, attempt: int) -> str:
    """The provider Idempotency-Key of a hold's charge: one per declined attempt."""
    return f"hold-{hold_id}-{attempt}"


def payment_description(hold_id: UUID) -> str:
    return f"CrowdPass hold {hold_id}"


async def confirm_hold(
    pool: Pool,
    redis: ArqRedis,
    *,
    http: httpx.AsyncClient,
    hold_id: UUID,
    principal: Principal,
    payment_method: str,
    idempotency_key: str | None,
    breaker: payments.CircuitBreaker | None = None,
) -> HoldConfirmed:
    """Pay for an active hold and turn its tickets into purchases.

    Takes the pool, not a connection: a connection is borrowed for the reserve and the
    settle steps only, never while the provider is charging.

    Idempotent per (hold, Idempotency-Key): a replay gets the first outcome again (the
    purchases, or the same 402, 409 or 410 refusal); the same key with another payment method is
    refused (422). Answers that leave the outcome open (502 provider unavailable, 503
    busy) are not stored, so the client can retry with the same key.
    """
    key = idempotency.check_key(idempotency_key)
    hold = await pool.fetchrow(Q.get_hold, hold_id)
    if hold is None:
        raise HoldNotFound()
    _check_owner(hold, principal, organizer_may=False)
    scope = keys.confirm_idempotency(hold_id, key)
    fp = idempotency.fingerprint(f"confirm:{hold_id}", payment_method.encode())
    return await idempotency.run_once(
        redis,
        scope,
        fp,
        lambda: _confirm(
            pool, redis, http=http, hold_id=hold_id, payment_method=payment_method, breaker=breaker
        ),
        status=200,
        encode=_confirmed_enc.encode,
        decode=_confirmed_dec.decode,
    )


_confirmed_enc = msgspec.json.Encoder()
_confirmed_dec = msgspec.json.Decoder(HoldConfirmed)


async def _confirm(
    pool: Pool,
    redis: ArqRedis,
    *,
    http: httpx.AsyncClient,
    hold_id: UUID,
    payment_method: str,
    breaker: payments.CircuitBreaker | None = None,
) -> HoldConfirmed:
    """Reserve (short transaction) → charge (nothing open) → settle (short transaction)."""
    hold = await _reserve_confirm(pool, redis, hold_id=hold_id)
    attempt = int(await redis.get(keys.hold_payment_attempt(hold_id)) or 0)
    charge_id = None
    if hold["total_cents"] > 0:
        charge_id = await _charge(
            redis, http=http, hold=hold, attempt=attempt, payment_method=payment_method, breaker=breaker
        )
    return await _settle_confirm(pool, redis, http=http, hold_id=hold_id, charge_id=charge_id)


async def _reserve_confirm(pool: Pool, redis: ArqRedis, *, hold_id: UUID) -> Any:
    """Lock the hold and check it may be paid for; commits before anything is charged.

    An active hold past `expires_at` whose expiry job has not run yet is expired here and
    answered 410: nothing is charged. A hold about to be charged is marked
    (`charging_since`) in the same commit, so a charge whose settle never runs (the process
    died) is found by the reconcile cron (reservations/holds/reconcile.py).
    """
    async with pool.acquire() as conn, conn.transaction():
        hold = await _lock(conn, hold_id)
        if hold is None:
            raise HoldNotFound()
        ended = None
        if hold["status"] == "active" and hold["overdue"]:
            ended = await conn.fetchrow(Q.expire_hold, hold_id)
            await _release(conn, ended)
        elif hold["status"] == "active" and hold["total_cents"] > 0:
            await conn.execute(Q.mark_charging, hold_id)
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
    redis: ArqRedis,
    *,
    http: httpx.AsyncClient,
    hold: Any,
    attempt: int,
    payment_method: str,
    breaker: payments.CircuitBreaker | None = None,
) -> str:
    """Charge the hold's total under its provider key for `attempt`; the charge id.

    Called with no transaction, lock or pooled connection open."""
    settings = get_settings()
    hold_id: UUID = hold["id"]
    try:
        charge = await payments.charge(
            http,
            amount_cents=hold["total_cents"],
            payment_method=payment_method,
            description=payment_description(hold_id),
            idempotency_key=payment_key(hold_id, attempt),
            retries=settings.payments_retries,
            timeout_s=settings.payments_timeout_s,
            breaker=breaker,
        )
    except payments.CardDeclined:
        await _next_attempt(redis, hold_id=hold_id, attempt=attempt)
        HOLDS.labels("declined").inc()
        raise PaymentDeclined() from None
    except payments.CircuitOpen as exc:
        retry_s = max(1, math.ceil(exc.retry_in_s))
        raise PaymentUnavailable(
            "The payment provider is slow; nothing was charged and your hold is kept until it "
            f"expires. Try again in {retry_s} s.",
            headers={"Retry-After": str(retry_s)},
        ) from None
    except payments.ProviderUnavailable:
        raise PaymentUnavailable() from None
    except payments.ProviderRejected as exc:
        log.warning("provider refused the charge of hold %s: %s", hold_id, exc)
        raise PaymentUnavailable(
            "The payment provider refused this attempt. If an earlier attempt with another "
            "payment method failed without an answer, retry with that one."
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
            held = _priced(await conn.fetch(Q.tickets_of_hold, hold_id), hold["half_price_count"])
            held = await codes.price_held(conn, hold_id=hold_id, tickets=held)
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
            await codes.confirm_use(conn, hold_id=hold_id)
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

"""The decision of one order in an orders worker (`jobs/orders_worker.py`): `OrderDesk`
runs each order through reserve, charge and settle (`decisions.py`), batching the database
steps of the orders this process is deciding at the same moment, and announces the
decision. Before a reserve batch it reads from Redis which earlier orders of each event are
not reserved yet (first come, first served); once the batch has committed, its reserved or
rejected orders leave the gate's count of unreserved tickets
(`lua/release_unreserved.lua`, once per order).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping

import asyncpg
import msgspec
from arq.connections import ArqRedis

from core import payments
from core.ops import (
    ORDER_DECISION_SECONDS,
    ORDER_REJECTIONS,
    ORDERS,
    ORDERS_WAITING_PAYMENT,
    PAYMENTS_CIRCUIT_OPEN,
)
from core.resources import Resources
from reservations import keys
from reservations.inventory.stock import stock_changed
from reservations.live import service as live
from reservations.orders.batching import Batcher
from reservations.orders.decisions import (
    DECIDED_RECORD_TTL_S,
    ORDER_HOLD_S,
    PAYMENT_TRIES,
    Decided,
    Intent,
    Missing,
    Reservation,
    Reserved,
    RetryLater,
    Settled,
    Settlement,
    WaitForEarlier,
    WaitForProvider,
    Waiting,
    reject_stranded_order,
    reserve_orders,
    settle_orders,
)
from reservations.orders.service import (
    PROVIDER_SLOW_NOTICE,
    S,
    earlier_unreserved,
    order_from_record,
    release_unreserved,
)

log = logging.getLogger("crowdpass.orders")

WAIT_S = 0.1  # an order behind earlier unreserved ones looks again this soon


def _intent(order_id: uuid.UUID, record: Mapping[bytes, bytes]) -> Intent:
    return Intent(
        order_id=order_id,
        event_id=uuid.UUID(record[b"event_id"].decode()),
        customer_id=uuid.UUID(record[b"customer_id"].decode()),
        quantity=int(record[b"quantity"]),
        accepted_at=dt.datetime.fromtimestamp(int(record[b"accepted_ms"]) / 1000, dt.UTC),
        request_id=record.get(b"request_id", b"").decode() or None,
        seq=int(record[b"seq"]) if record.get(b"seq") else None,
        ticket_type=record[b"ticket_type"].decode() if record.get(b"ticket_type") else None,
    )


def _is_transient(exc: BaseException) -> bool:
    return isinstance(
        exc,
        asyncpg.LockNotAvailableError
        | asyncpg.QueryCanceledError
        | asyncpg.DeadlockDetectedError
        | asyncpg.SerializationError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | OSError
        | TimeoutError,
    )


class OrderDesk:
    """Per worker process: the batchers in front of PostgreSQL and the decision flow."""

    def __init__(self, res: Resources, *, max_batch: int = 200, name: str | None = None) -> None:
        self.res = res
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._published: str = "closed"  # the breaker state last put in Redis
        self.reserve = Batcher(self._reserve_batch, max_size=max_batch)
        self.settle = Batcher(self._settle_batch, max_size=max_batch)

    async def _reserve_batch(self, intents: list[Intent]) -> list[Reservation]:
        await pace_orders(self.res.redis, rate=self.res.settings.orders_per_s, count=len(intents))
        ahead = await self._ahead(intents)  # read before the reserve step counts the tickets
        async with self.res.pool.acquire() as conn:
            out, changed = await reserve_orders(
                conn,
                intents=intents,
                lock_timeout_ms=self.res.settings.lock_timeout_ms,
                statement_timeout_ms=self.res.settings.decision_statement_timeout_ms,
                ahead=ahead,
            )
        # Committed: PostgreSQL now shows these orders' tickets IN_PROGRESS (or the orders
        # rejected), so the gate stops counting them as unreserved. Waiting ones still count.
        per_event: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for i in intents:
            if not isinstance(out[i.order_id], Waiting):
                per_event[i.event_id].append(i.order_id)
        for event_id, order_ids in per_event.items():
            await release_unreserved(self.res.redis, event_id=event_id, order_ids=order_ids)
        for event_id in changed:
            await stock_changed(self.res.redis, event_id=event_id)
        return [out[i.order_id] for i in intents]

    async def _ahead(self, intents: list[Intent]) -> dict[uuid.UUID, list[tuple[int, int]]]:
        """Per event, the earlier orders outside this batch still waiting to be reserved."""
        per_event: dict[uuid.UUID, list[Intent]] = defaultdict(list)
        for i in intents:
            if i.seq is not None:
                per_event[i.event_id].append(i)
        ahead: dict[uuid.UUID, list[tuple[int, int]]] = {}
        for event_id, group in per_event.items():
            ahead[event_id] = await earlier_unreserved(
                self.res.redis,
                event_id=event_id,
                order_ids=[i.order_id for i in group],
                max_seq=max(i.seq for i in group if i.seq is not None),
            )
        return ahead

    async def _settle_batch(self, settlements: list[Settlement]) -> list[Settled | None]:
        async with self.res.pool.acquire() as conn:
            out, changed = await settle_orders(
                conn,
                settlements=settlements,
                lock_timeout_ms=self.res.settings.lock_timeout_ms,
                statement_timeout_ms=self.res.settings.decision_statement_timeout_ms,
            )
        for event_id in changed:
            await stock_changed(self.res.redis, event_id=event_id)
        return [out.get(s.order_id) for s in settlements]

    async def decide_order(self, *, order_id: uuid.UUID, job_try: int = 1) -> str:
        """Decide one accepted order; returns its final status. Raises RetryLater when the
        database or the provider is busy (the job runs again and resumes)."""
        try:
            return await self._decide(order_id, job_try)
        except RetryLater:
            raise
        except Exception as exc:
            if _is_transient(exc):
                raise RetryLater(f"{type(exc).__name__}: {exc}", delay_s=min(0.5 * job_try, 5.0)) from exc
            raise

    async def _decide(self, order_id: uuid.UUID, job_try: int) -> str:
        # With the other orders' reads of this turn of the loop: one pipeline.
        flat = await self.res.redis_batch.command("HGETALL", keys.order(order_id))
        record: dict[bytes, bytes] = dict(zip(flat[::2], flat[1::2], strict=True))
        if not record:
            return await self._decide_without_record(order_id)
        if record[b"status"] != b"queued":
            return str(record[b"status"].decode())
        intent = _intent(order_id, record)
        reservation = await self.reserve.submit(intent)
        if isinstance(reservation, Missing):
            log.error("order refers to an unknown event or customer", extra={"order_id": str(order_id)})
            await self._close_record(order_id, intent.event_id, "rejected", "event_closed")
            return "rejected"
        if isinstance(reservation, Decided):
            await self.announce(reservation, event_id=intent.event_id)
            return reservation.order.status
        if isinstance(reservation, Waiting):
            raise WaitForEarlier("earlier orders of the event are not reserved yet", delay_s=WAIT_S)
        settlement = await self._charge(order_id, record, reservation, job_try)
        settled = await self.settle.submit(settlement)
        if settled is None:
            raise RuntimeError(f"order {order_id} vanished while settling")
        if b"notice" in record:  # it waited for the provider: no longer
            await self.res.redis.zrem(keys.orders_waiting_payment(), str(order_id))
        if settled.hold_lost and settlement.payment_id is not None:
            await payments.refund(self.res.http, charge_id=settlement.payment_id, breaker=self.res.breaker)
            log.warning(
                "order hold ended before settlement; charge refunded", extra={"order_id": str(order_id)}
            )
        await self.announce(settled.decided, event_id=intent.event_id)
        return settled.decided.order.status

    async def _charge(
        self, order_id: uuid.UUID, record: Mapping[bytes, bytes], reserved: Reserved, job_try: int
    ) -> Settlement:
        settings = self.res.settings
        try:
            charge = await payments.charge(
                self.res.http,
                amount_cents=reserved.total_cents,
                payment_method=record[b"payment_method"].decode(),
                description=f"order {order_id}",
                idempotency_key=f"order-{order_id}",
                retries=settings.payments_retries,
                timeout_s=settings.payments_timeout_s,
                breaker=self.res.breaker,
            )
        except payments.CardDeclined:
            return Settlement(order_id, reserved.hold_id, None, "payment_declined")
        except payments.ProviderUnavailable as exc:
            await self._publish_breaker()
            return await self._wait_for_provider(order_id, record, reserved, exc)
        except payments.ProviderRejected as exc:
            if job_try < PAYMENT_TRIES:
                raise RetryLater(f"payment provider: {exc}", delay_s=min(2.0**job_try, 30.0)) from exc
            log.error(
                "payment provider refused %d times; rejecting", job_try, extra={"order_id": str(order_id)}
            )
            return Settlement(order_id, reserved.hold_id, None, "payment_unavailable")
        finally:
            if self.res.breaker.state != self._published:
                await self._publish_breaker()
        return Settlement(order_id, reserved.hold_id, charge.id)

    async def _wait_for_provider(
        self,
        order_id: uuid.UUID,
        record: Mapping[bytes, bytes],
        reserved: Reserved,
        exc: payments.ProviderUnavailable,
    ) -> Settlement:
        """The provider gave no answer: keep the tickets and try again later (backoff growing
        with the order's age, at most PAYMENTS_BACKOFF_MAX_S), telling the buyer once; past
        the order's deadline (PAYMENTS_DEADLINE_S after acceptance) reject it."""
        settings = self.res.settings
        accepted_s = int(record[b"accepted_ms"]) / 1000
        # Never past the order's hold (ORDER_HOLD_S), which the sweeper would end meanwhile.
        deadline_s = accepted_s + min(settings.payments_deadline_s, ORDER_HOLD_S - 60)
        now = time.time()
        if now >= deadline_s:
            log.error(
                "payment provider away until the order's deadline; rejecting",
                extra={"order_id": str(order_id)},
            )
            return Settlement(order_id, reserved.hold_id, None, "payment_unavailable")
        if b"notice" not in record:
            await self._tell_waiting(order_id, record, deadline_ms=int(deadline_s * 1000))
        delay = min(max(0.25 * (now - accepted_s), 0.2), settings.payments_backoff_max_s, deadline_s - now)
        if isinstance(exc, payments.CircuitOpen):
            delay = min(max(delay, exc.retry_in_s), deadline_s - now)
        raise WaitForProvider(f"payment provider: {exc}", delay_s=max(delay, 0.05)) from exc

    async def _tell_waiting(
        self, order_id: uuid.UUID, record: Mapping[bytes, bytes], *, deadline_ms: int
    ) -> None:
        """Mark the order as waiting for the provider (its record, the monitor's set) and,
        the first time, tell the buyer their place is kept."""
        redis = self.res.redis
        key = keys.order(order_id)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "notice", PROVIDER_SLOW_NOTICE)
            pipe.hset(key, "pay_until_ms", str(deadline_ms))
            pipe.zadd(keys.orders_waiting_payment(), {str(order_id): deadline_ms})
            first, *_ = await pipe.execute()
        if not first:
            return
        fresh = await redis.hgetall(key)  # type: ignore[misc]
        if not fresh or fresh.get(b"status") != b"queued":
            return
        order = order_from_record(order_id, fresh)
        customer_id = uuid.UUID(record[b"customer_id"].decode())
        await live.publish_order(self.res.publisher, customer_id=customer_id, order=order)
        ORDERS_WAITING_PAYMENT.inc()
        log.warning("order waits for the payment provider", extra={"order_id": str(order_id)})

    async def _publish_breaker(self) -> None:
        """Put this process's breaker where the job monitor reads it."""
        status = self.res.breaker.status()
        self._published = status.state
        PAYMENTS_CIRCUIT_OPEN.set(0 if status.state == "closed" else 1)
        await self.res.redis.hset(keys.payments_breakers(), self.name, msgspec.json.encode(status).decode())  # type: ignore[misc]

    async def _decide_without_record(self, order_id: uuid.UUID) -> str:
        """The Redis record is gone: decided long ago, or lost with Redis. A written order
        still undecided cannot be charged any more (the payment method was in the record)."""
        async with self.res.pool.acquire() as conn:
            decided = await reject_stranded_order(
                conn,
                order_id=order_id,
                reason="payment_unavailable",
                lock_timeout_ms=self.res.settings.lock_timeout_ms,
            )
        if decided is None:
            log.warning("order unknown to Redis and PostgreSQL", extra={"order_id": str(order_id)})
            return "unknown"
        if decided.now:
            await stock_changed(self.res.redis, event_id=decided.order.event_id)
        await self.announce(decided, event_id=decided.order.event_id)
        return decided.order.status

    async def _close_record(
        self, order_id: uuid.UUID, event_id: uuid.UUID, status: str, reason: str | None
    ) -> int:
        first: int = await self.res.redis_batch.call(
            S.finish_order,
            [
                keys.order(order_id),
                keys.order_counts(event_id),
                keys.orders_pending(),
                keys.orders_unreserved(event_id),
                keys.orders_unreserved_seq(event_id),
                keys.orders_unreserved_types(event_id),
            ],
            [str(order_id), status, reason or "", DECIDED_RECORD_TTL_S],
        )
        return first

    async def announce(self, decided: Decided, *, event_id: uuid.UUID) -> None:
        """Close the Redis record and, the first time, tell the customer and the live feed.
        The first time is the call that closes the record (one of several deciding the
        order at once), or, without a record, the call that decided the order."""
        order = decided.order
        closed = await self._close_record(order.id, event_id, order.status, order.reason)
        if not (closed == 1 or (closed == -1 and decided.now)):
            return
        publisher = self.res.publisher
        await live.publish_order(publisher, customer_id=decided.customer_id, order=order)
        if order.status == "confirmed":
            at = order.decided_at or dt.datetime.now(dt.UTC)
            await live.publish_purchase(publisher, event_id=event_id, buyer_name=decided.customer_name, at=at)
        ORDERS.labels(order.status).inc()
        if order.reason:
            ORDER_REJECTIONS.labels(order.reason).inc()
        if order.decided_at is not None:
            ORDER_DECISION_SECONDS.observe(max(0.0, (order.decided_at - order.accepted_at).total_seconds()))
        log.info(
            "order %s%s",
            order.status,
            f" ({order.reason})" if order.reason else "",
            extra={"order_id": str(order.id), "event_id": str(event_id)},
        )


async def pace_orders(redis: ArqRedis, *, rate: float, count: int = 1) -> None:
    """Wait for `count` tokens of the bucket every orders worker shares (ORDERS_PER_S)."""
    if rate <= 0:
        return
    burst = max(1, int(rate))
    while count > 0:
        want = min(count, burst)
        wait_ms = await S.take_order_tokens(redis, [keys.orders_rate()], [rate, burst, want])
        if not wait_ms:
            count -= want
        else:
            await asyncio.sleep(int(wait_ms) / 1000)

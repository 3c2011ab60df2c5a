"""Deciding accepted orders (the `ticket_orders` worker).

Each order goes through three steps, the database ones batched across the orders a worker
is deciding at the same moment (`OrderDesk`, group commit):

1. reserve (one transaction per batch): write the order row once, count the tickets
   against the customer's allowance, claim tickets (`SKIP LOCKED`) and keep them under a
   hold row linked to the order — or decide the order `rejected` (`sold_out`,
   `limit_reached`, `event_closed`).
2. charge the payments provider once per order, with the provider key `order-<id>`;
   outside any transaction.
3. settle (one transaction per batch): book the held tickets and write the purchases
   (`confirmed`), or give the tickets back (`rejected`, `payment_declined`).

A job that dies at any point is run again and resumes: the order row, its hold and the
provider key survive, so a retry neither takes a second ticket nor charges twice. After
the decision the customer hears it on their channel, the event's live channel hears of
the purchase, and the Redis record of the order is closed (`lua/finish_order.lua`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from arq.connections import ArqRedis

from core import payments
from core.db import Connection
from core.ops import ORDER_DECISION_SECONDS, ORDER_REJECTIONS, ORDERS
from core.resources import Resources
from reservations import keys
from reservations.queries import Q
from reservations.schemas.orders import Order
from reservations.service import live, tickets
from reservations.service.batching import Batcher
from reservations.service.orders import S, load_orders
from reservations.service.stock import stock_changed

log = logging.getLogger("crowdpass.orders")

# An order's hold outlives any worker restart; the hold sweeper ends it only if the order
# could not be settled for this long.
ORDER_HOLD_S = 3600
DECIDED_RECORD_TTL_S = 3600
# Job tries with the payment provider unavailable before the order is rejected.
PAYMENT_TRIES = 6


class RetryLater(Exception):
    """The order cannot be decided now (database or provider busy); run the job again."""

    def __init__(self, reason: str, *, delay_s: float) -> None:
        self.delay_s = delay_s
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Intent:
    """An accepted order, as its Redis record describes it."""

    order_id: uuid.UUID
    event_id: uuid.UUID
    customer_id: uuid.UUID
    quantity: int
    accepted_at: dt.datetime
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Reserved:
    hold_id: uuid.UUID
    total_cents: int


@dataclass(frozen=True, slots=True)
class Decided:
    order: Order
    customer_id: uuid.UUID
    customer_name: str
    now: bool  # decided by this call (not found already decided)


@dataclass(frozen=True, slots=True)
class Missing:
    """PostgreSQL has no such event or customer: the order cannot be written."""


Reservation = Reserved | Decided | Missing


@dataclass(frozen=True, slots=True)
class Settlement:
    order_id: uuid.UUID
    hold_id: uuid.UUID
    payment_id: str | None  # set: confirm; None: reject with `reason`
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    decided: Decided
    hold_lost: bool  # the hold had ended before the settlement: a charge must be refunded


# --- step 1: reserve ---------------------------------------------------------------------


async def reserve_orders(
    conn: Connection, *, intents: Sequence[Intent], lock_timeout_ms: int, hold_s: int = ORDER_HOLD_S
) -> tuple[dict[uuid.UUID, Reservation], set[uuid.UUID]]:
    """Reserve tickets for a batch of orders in one transaction.

    Returns each order's reservation and the events whose stock changed.
    """
    unique = {i.order_id: i for i in intents}
    ordered = sorted(unique.values(), key=lambda i: i.order_id)
    out: dict[uuid.UUID, Reservation] = {}
    rejected: dict[uuid.UUID, str] = {}
    changed: set[uuid.UUID] = set()
    already: list[uuid.UUID] = []
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, lock_timeout_ms)
        await conn.execute(
            Q.insert_orders,
            [i.order_id for i in ordered],
            [i.event_id for i in ordered],
            [i.customer_id for i in ordered],
            [i.quantity for i in ordered],
            [i.accepted_at for i in ordered],
            [i.request_id for i in ordered],
        )
        rows = {r["id"]: r for r in await conn.fetch(Q.lock_orders, [i.order_id for i in ordered])}
        to_claim: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
        for intent in sorted(ordered, key=lambda i: i.accepted_at):
            row = rows.get(intent.order_id)
            if row is None:
                out[intent.order_id] = Missing()
            elif row["status"] != "queued":
                already.append(intent.order_id)
            elif row["hold_id"] is not None and row["hold_status"] == "active":
                out[intent.order_id] = Reserved(hold_id=row["hold_id"], total_cents=row["total_cents"])
            elif row["event_closed"]:
                rejected[intent.order_id] = "event_closed"
            else:
                to_claim[row["event_id"]].append(row)
        for event_id, group in to_claim.items():
            reserved = await _reserve_event(
                conn, event_id=event_id, rows=group, hold_s=hold_s, out_rejected=rejected
            )
            out.update(reserved)
            if reserved:
                changed.add(event_id)
        if rejected:
            await conn.execute(Q.reject_orders, list(rejected), list(rejected.values()))
        decided_ids = [*rejected, *already]
        views = await load_orders(conn, order_ids=decided_ids) if decided_ids else {}
    for order_id in decided_ids:
        v = views[order_id]
        out[order_id] = Decided(
            order=v.order, customer_id=v.customer_id, customer_name=v.customer_name, now=order_id in rejected
        )
    return out, changed


async def _reserve_event(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    rows: list[asyncpg.Record],
    hold_s: int,
    out_rejected: dict[uuid.UUID, str],
) -> dict[uuid.UUID, Reservation]:
    """Orders of one event, in acceptance order. A customer appears once per round so that
    one allowance upsert never touches a row twice."""
    limit = rows[0]["max_per_customer"]
    reserved: dict[uuid.UUID, Reservation] = {}
    pending = rows
    while pending:
        seen: set[uuid.UUID] = set()
        this_round: list[asyncpg.Record] = []
        later: list[asyncpg.Record] = []
        for r in pending:
            (later if r["customer_id"] in seen else this_round).append(r)
            seen.add(r["customer_id"])
        pending = later
        by_customer = sorted(this_round, key=lambda r: r["customer_id"])
        fit = {
            r["customer_id"]
            for r in await conn.fetch(
                Q.take_order_allowances,
                [r["customer_id"] for r in by_customer],
                event_id,
                [r["quantity"] for r in by_customer],
                limit,
            )
        }
        allowed = []
        for r in this_round:
            if r["customer_id"] in fit:
                allowed.append(r)
            else:
                out_rejected[r["id"]] = "limit_reached"
        if not allowed:
            continue
        claimed = await tickets.claim_up_to(
            conn, event_id=event_id, quantity=sum(r["quantity"] for r in allowed)
        )
        holds: list[tuple[asyncpg.Record, uuid.UUID, list[asyncpg.Record]]] = []
        sold_out: list[asyncpg.Record] = []
        for r in allowed:
            if len(claimed) >= r["quantity"]:
                mine, claimed = claimed[: r["quantity"]], claimed[r["quantity"] :]
                holds.append((r, uuid.uuid4(), mine))
            else:
                sold_out.append(r)
        for r in sold_out:
            out_rejected[r["id"]] = "sold_out"
        if sold_out:
            back = sorted(sold_out, key=lambda r: r["customer_id"])
            await conn.execute(
                Q.release_order_allowances,
                [r["customer_id"] for r in back],
                event_id,
                [r["quantity"] for r in back],
            )
        if not holds:
            continue
        await conn.execute(
            Q.insert_order_holds,
            event_id,
            [h for _, h, _ in holds],
            [r["customer_id"] for r, _, _ in holds],
            [r["quantity"] for r, _, _ in holds],
            [sum(t["price_cents"] for t in ts) for _, _, ts in holds],
            hold_s,
        )
        ticket_ids = [t["id"] for _, _, ts in holds for t in ts]
        result = await conn.execute(
            Q.hold_order_tickets,
            ticket_ids,
            [h for _, h, ts in holds for _ in ts],
            [r["customer_id"] for r, _, ts in holds for _ in ts],
        )
        if result != f"UPDATE {len(ticket_ids)}":  # locked rows cannot change; a broken invariant
            raise RuntimeError(f"held {result} of {len(ticket_ids)} claimed tickets")
        await conn.execute(Q.set_order_holds, [r["id"] for r, _, _ in holds], [h for _, h, _ in holds])
        for r, h, ts in holds:
            reserved[r["id"]] = Reserved(hold_id=h, total_cents=sum(t["price_cents"] for t in ts))
    return reserved


# --- step 3: settle ----------------------------------------------------------------------


async def settle_orders(
    conn: Connection, *, settlements: Sequence[Settlement], lock_timeout_ms: int
) -> tuple[dict[uuid.UUID, Settled], set[uuid.UUID]]:
    """Confirm (book + purchases) or reject (release) reserved orders in one transaction.

    An order whose hold ended before its settlement (the sweeper expired it) is rejected
    `payment_unavailable` and reported with `hold_lost` so its charge can be refunded.
    """
    unique = {s.order_id: s for s in settlements}
    ids = sorted(unique)
    confirm: list[tuple[Settlement, asyncpg.Record]] = []
    release: list[tuple[Settlement, asyncpg.Record]] = []
    lost: set[uuid.UUID] = set()
    rejected: dict[uuid.UUID, str] = {}
    already: list[uuid.UUID] = []
    changed: set[uuid.UUID] = set()
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, lock_timeout_ms)
        rows = {r["id"]: r for r in await conn.fetch(Q.lock_order_holds, ids)}
        for order_id in ids:
            s, row = unique[order_id], rows.get(order_id)
            if row is None or row["status"] != "queued":
                already.append(order_id)
            elif row["hold_id"] != s.hold_id or row["hold_status"] != "active":
                lost.add(order_id)
                rejected[order_id] = "payment_unavailable"
            elif s.payment_id is not None:
                confirm.append((s, row))
            else:
                release.append((s, row))
                rejected[order_id] = s.reason or "payment_declined"
        if confirm:
            await _book(conn, confirm)
            changed.update(r["event_id"] for _, r in confirm)
        if release:
            await _release(conn, release)
            changed.update(r["event_id"] for _, r in release)
        if rejected:
            await conn.execute(Q.reject_orders, list(rejected), list(rejected.values()))
        views = await load_orders(conn, order_ids=ids)
    out: dict[uuid.UUID, Settled] = {}
    for order_id in ids:
        v = views.get(order_id)
        if v is None:
            continue  # an order without a row cannot have a hold; nothing to settle
        now = order_id not in already
        decided = Decided(order=v.order, customer_id=v.customer_id, customer_name=v.customer_name, now=now)
        out[order_id] = Settled(decided=decided, hold_lost=order_id in lost)
    return out, changed


async def _book(conn: Connection, confirm: list[tuple[Settlement, asyncpg.Record]]) -> None:
    holds = [s.hold_id for s, _ in confirm]
    booked = await conn.fetch(Q.book_order_holds, holds)
    per_hold: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
    for t in booked:
        per_hold[t["hold_id"]].append(t)
    event_ids, customer_ids, ticket_ids, hold_ids, order_ids, prices = [], [], [], [], [], []
    for s, row in confirm:
        got = per_hold.get(s.hold_id, [])
        if len(got) != row["quantity"]:  # an active, locked hold keeps its tickets
            raise RuntimeError(f"hold {s.hold_id} had {len(got)} of {row['quantity']} tickets")
        for t in got:
            event_ids.append(row["event_id"])
            customer_ids.append(row["customer_id"])
            ticket_ids.append(t["id"])
            hold_ids.append(s.hold_id)
            order_ids.append(s.order_id)
            prices.append(t["price_cents"])
    await conn.execute(
        Q.insert_order_purchases, event_ids, customer_ids, ticket_ids, hold_ids, order_ids, prices
    )
    await conn.execute(
        Q.end_order_holds, holds, ["confirmed"] * len(holds), [s.payment_id for s, _ in confirm]
    )
    await conn.execute(
        Q.confirm_order_rows, [s.order_id for s, _ in confirm], [s.payment_id for s, _ in confirm]
    )


async def _release(conn: Connection, release: list[tuple[Settlement, asyncpg.Record]]) -> None:
    holds = [s.hold_id for s, _ in release]
    await conn.execute(Q.release_order_holds, holds)
    await conn.execute(Q.end_order_holds, holds, ["cancelled"] * len(holds), [None] * len(holds))
    give_back: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for _, row in release:
        give_back[(row["event_id"], row["customer_id"])] += row["quantity"]
    per_event: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = defaultdict(list)
    for (event_id, customer_id), qty in sorted(give_back.items()):
        per_event[event_id].append((customer_id, qty))
    for event_id, items in per_event.items():
        await conn.execute(Q.release_order_allowances, [c for c, _ in items], event_id, [q for _, q in items])


async def reject_stranded_order(
    conn: Connection, *, order_id: uuid.UUID, reason: str, lock_timeout_ms: int
) -> Decided | None:
    """Reject a written, undecided order that can no longer be charged (its Redis record
    with the card number is gone), giving back its tickets if it holds some."""
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, lock_timeout_ms)
        rows = await conn.fetch(Q.lock_orders, [order_id])
        if not rows:
            return None
        row = rows[0]
        now = row["status"] == "queued"
        if now:
            if row["hold_id"] is not None and row["hold_status"] == "active":
                await _release(conn, [(Settlement(order_id, row["hold_id"], None, reason), row)])
            await conn.execute(Q.reject_orders, [order_id], [reason])
        views = await load_orders(conn, order_ids=[order_id])
    v = views[order_id]
    return Decided(order=v.order, customer_id=v.customer_id, customer_name=v.customer_name, now=now)


# --- the per-order job -------------------------------------------------------------------


def _intent(order_id: uuid.UUID, record: Mapping[bytes, bytes]) -> Intent:
    return Intent(
        order_id=order_id,
        event_id=uuid.UUID(record[b"event_id"].decode()),
        customer_id=uuid.UUID(record[b"customer_id"].decode()),
        quantity=int(record[b"quantity"]),
        accepted_at=dt.datetime.fromtimestamp(int(record[b"accepted_ms"]) / 1000, dt.UTC),
        request_id=record.get(b"request_id", b"").decode() or None,
    )


def _is_transient(exc: BaseException) -> bool:
    return isinstance(
        exc,
        asyncpg.LockNotAvailableError
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

    def __init__(self, res: Resources, *, max_batch: int = 200) -> None:
        self.res = res
        self.reserve = Batcher(self._reserve_batch, max_size=max_batch)
        self.settle = Batcher(self._settle_batch, max_size=max_batch)

    async def _reserve_batch(self, intents: list[Intent]) -> list[Reservation]:
        await pace_orders(self.res.redis, rate=self.res.settings.orders_per_s, count=len(intents))
        async with self.res.pool.acquire() as conn:
            out, changed = await reserve_orders(
                conn, intents=intents, lock_timeout_ms=self.res.settings.lock_timeout_ms
            )
        for event_id in changed:
            await stock_changed(self.res.redis, event_id=event_id)
        return [out[i.order_id] for i in intents]

    async def _settle_batch(self, settlements: list[Settlement]) -> list[Settled | None]:
        async with self.res.pool.acquire() as conn:
            out, changed = await settle_orders(
                conn, settlements=settlements, lock_timeout_ms=self.res.settings.lock_timeout_ms
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
        redis = self.res.redis
        record = await redis.hgetall(keys.order(order_id))  # type: ignore[misc]
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
        settlement = await self._charge(order_id, record, reservation, job_try)
        settled = await self.settle.submit(settlement)
        if settled is None:
            raise RuntimeError(f"order {order_id} vanished while settling")
        if settled.hold_lost and settlement.payment_id is not None:
            await payments.refund(self.res.http, charge_id=settlement.payment_id)
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
                card_number=record[b"card_number"].decode(),
                description=f"order {order_id}",
                idempotency_key=f"order-{order_id}",
                retries=settings.payments_retries,
                timeout_s=settings.payments_timeout_s,
            )
        except payments.CardDeclined:
            return Settlement(order_id, reserved.hold_id, None, "payment_declined")
        except (payments.ProviderUnavailable, payments.ProviderRejected) as exc:
            if job_try < PAYMENT_TRIES:
                raise RetryLater(f"payment provider: {exc}", delay_s=min(2.0**job_try, 30.0)) from exc
            log.error(
                "payment provider failed %d times; rejecting", job_try, extra={"order_id": str(order_id)}
            )
            return Settlement(order_id, reserved.hold_id, None, "payment_unavailable")
        return Settlement(order_id, reserved.hold_id, charge.id)

    async def _decide_without_record(self, order_id: uuid.UUID) -> str:
        """The Redis record is gone: decided long ago, or lost with Redis. A written order
        still undecided cannot be charged any more (the card number was in the record)."""
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
        first: int = await S.finish_order(
            self.res.redis,
            [keys.order(order_id), keys.order_counts(event_id), keys.orders_pending()],
            [str(order_id), status, reason or "", DECIDED_RECORD_TTL_S],
        )
        return first

    async def announce(self, decided: Decided, *, event_id: uuid.UUID) -> None:
        """Close the Redis record and, the first time, tell the customer and the live feed."""
        order = decided.order
        first = await self._close_record(order.id, event_id, order.status, order.reason)
        if not (first or decided.now):
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

"""Orders, the accept side: `POST /api/orders` answers from Redis alone.

One Lua script (`lua/place_order.lua`) checks the Idempotency-Key, the event, the
customer's gate count, the sold-out flag and the stock bound (tickets of accepted orders
not reserved yet, plus this one, within the event's available tickets), then writes the
order record, gives it the event's next sequence number and appends it to the Redis
Stream `ticket_orders` — all in one atomic step, so an accepted order is always on the
stream and a duplicate never is. PostgreSQL is not on this path: orders are accepted
while it is slow or briefly down, and the orders workers (`jobs/orders_worker.py`,
`desk.py`, `decisions.py`) decide them.

The event facts the gate needs live in a Redis hash per event, written when an event is
created (`refresh_event_meta`) and rebuilt by the reconcile job. On a miss the request
reads that one event from PostgreSQL (bounded by META_MISS_TIMEOUT_S) and fills the
cache; if PostgreSQL does not answer in time the request gets 503 `busy` and may retry.
Unknown ids are cached as missing for MISSING_TTL_S so a flood of them reads PostgreSQL
once per id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from arq.connections import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import limits, queues
from core.addresses import limit_subject
from core.auth import Principal
from core.config import get_settings
from core.db import Connection, queries_beside
from core.errors import AppError, Busy, Forbidden
from core.idempotency import KeyReused
from core.ops import ORDERS
from core.redis import Scripts
from core.resources import Resources
from reservations import keys
from reservations.errors import (
    AdmissionRequired,
    EventNotFound,
    LimitReached,
    NotOnSale,
    SoldOut,
    UnknownTicketType,
)
from reservations.orders.errors import IdempotencyKeyRequired, OrderNotFound
from reservations.orders.schemas import Order, OrderAccepted, OrderCreate, OrderPurchase

Q = queries_beside(__file__)

# A key is found while its first day is yesterday, today or tomorrow (UTC): kept at least
# 24 h and at most 48 h. Each day's hashes expire this long after their first write.
IDEMPOTENCY_HASH_TTL_S = 3 * 86400
COUNTS_TTL_S = 7 * 24 * 3600
MISSING_TTL_S = 30
META_MISS_TIMEOUT_S = 1.0
MAX_KEY_LENGTH = 255

S = Scripts(Path(__file__).resolve().parent / "lua")
_ACCEPTED, _REFUSED = ORDERS.labels("accepted"), ORDERS.labels("refused")  # looked up once
log = logging.getLogger("crowdpass.orders")


@dataclasses.dataclass
class Guards:
    """The race guard of the accept gate, on in production. Only tests switch it off
    (`without_guard` in tests/concurrency/conftest.py); nothing else sets it."""

    atomic_idempotency_claim: bool = True  # place_order.lua: the key's lookup and claim in one step


GUARDS = Guards()


# The gate's refusals by the code it stores under an Idempotency-Key (replayed as the same).
REFUSALS: dict[str, type[AppError]] = {
    "not_on_sale": NotOnSale,
    "admission_required": AdmissionRequired,
    "limit_reached": LimitReached,
    "sold_out": SoldOut,
    "unknown_ticket_type": UnknownTicketType,
}


class Placed(msgspec.Struct, frozen=True):
    """The gate's decision on an order: accepted (`order`, queued for the worker) or refused
    (`refusal`, a catalogue error), the same for every replay of its Idempotency-Key.
    Refusals are values, not exceptions: most attempts of a flash sale are refused."""

    order: OrderAccepted | None = None
    refusal: type[AppError] | None = None


def _refused(code: bytes) -> Placed:
    return Placed(refusal=REFUSALS[code.decode()])


def _accepted(order_id: uuid.UUID, data: OrderCreate) -> Placed:
    return Placed(
        order=OrderAccepted(id=order_id, status="queued", event_id=data.event_id, quantity=data.quantity)
    )


def check_idempotency_key(key: str | None) -> str:
    if key is None or not 1 <= len(key) <= MAX_KEY_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise IdempotencyKeyRequired(field="Idempotency-Key")
    return key


class _Untyped(msgspec.Struct, frozen=True):
    """An order without a ticket type, encoded as bodies were before types existed, so
    the keys stored then keep their fingerprint."""

    event_id: uuid.UUID
    payment_method: str
    quantity: int


def fingerprint(data: OrderCreate) -> bytes:
    """Of the decoded body, so key order and whitespace do not matter; defaults count.
    8 bytes: it tells apart two bodies sent under one customer's key, nothing more."""
    body: msgspec.Struct = data
    if data.ticket_type is None:
        body = _Untyped(event_id=data.event_id, payment_method=data.payment_method, quantity=data.quantity)
    return hashlib.blake2b(msgspec.json.encode(body), digest_size=8).digest()


class IdempotencySlot(msgspec.Struct, frozen=True):
    """Where an order Idempotency-Key's answer lives: a field of one of 65,536 hashes per
    UTC day (today's first, then yesterday's and tomorrow's), so a flash sale's million
    keys cost tens of MB in small listpack hashes instead of a Redis key each."""

    hashes: tuple[str, str, str]
    field: bytes


def idempotency_slot(customer_id: uuid.UUID, key: str, *, now: float) -> IdempotencySlot:
    digest = hashlib.blake2b(f"{customer_id}:{key}".encode(), digest_size=16).digest()
    shard = int.from_bytes(digest[:2]) % keys.ORDER_KEY_SHARDS
    day = int(now // 86400)
    return IdempotencySlot(
        hashes=(
            keys.order_idempotency(day, shard),
            keys.order_idempotency(day - 1, shard),
            keys.order_idempotency(day + 1, shard),
        ),
        field=digest[2:],
    )


def order_limits(customer_id: uuid.UUID | str, client_ip: str) -> list[limits.Limit]:
    settings = get_settings()
    window = settings.order_window_s
    return [
        limits.Limit(
            limits.key("order-customer", str(customer_id)), settings.order_limit_per_customer, window
        ),
        limits.Limit(
            limits.key("order-address", limit_subject(client_ip)), settings.order_limit_per_address, window
        ),
    ]


async def place_order(
    res: Resources,
    *,
    customer_id: uuid.UUID,
    data: OrderCreate,
    idempotency_key: str | None,
    request_id: str | None,
    client_ip: str,
) -> Placed:
    """Accept an order (202), refuse it (409/403), or answer as this key answered before.
    429 over the customer's or the address's order limit (ORDER_* settings)."""
    key = check_idempotency_key(idempotency_key)
    order_id = uuid.uuid4()
    now = time.time()
    slot = idempotency_slot(customer_id, key, now=now)
    # Each id as text once: the keys below would format the event id eight times.
    event, order, customer = str(data.event_id), str(order_id), str(customer_id)
    script_keys = [
        slot.hashes[0],
        keys.event_meta(event),
        keys.sold_out(event),
        keys.order_counts(event),
        keys.order(order),
        keys.orders_pending(),
        queues.ORDERS_QUEUE,
        keys.order_seq(event),
        keys.available(event),
        keys.orders_unreserved(event),
        slot.hashes[1],
        slot.hashes[2],
        keys.orders_unreserved_seq(event),
        keys.orders_unreserved_types(event),
        keys.available_type(event, data.ticket_type or ""),
    ]
    args: list[str | bytes | int] = [
        fingerprint(data),
        IDEMPOTENCY_HASH_TTL_S,
        customer,
        data.quantity,
        order,
        slot.field,
        event,
        data.payment_method,
        request_id or "",
        COUNTS_TTL_S,
        data.ticket_type or "",
    ]
    try:
        await limits.check_limits(
            res.redis_batch, order_limits(customer, client_ip), detail="Too many orders"
        )
        result = await _gate(res, script_keys, args)
        if result[0] == b"miss":
            await _fill_meta_on_miss(res, event_id=data.event_id)
            result = await _gate(res, script_keys, args)
    except RedisError as exc:  # down, or full (noeviction): nothing was accepted
        if isinstance(exc, RedisConnectionError | RedisTimeoutError):  # an outage: one line each
            log.warning("the order gate cannot reach Redis: %s", exc)
        else:
            log.exception("the order gate failed")
        raise Busy("Orders cannot be accepted right now; try again.", headers={"Retry-After": "1"}) from None
    kind = result[0].decode()
    if kind == "accepted":
        _ACCEPTED.inc()
        return _accepted(order_id, data)
    if kind == "replay":
        status, stored = int(result[1]), result[2]
        if status == 202:
            # Same fingerprint, same body: the 202 is rebuilt byte for byte from it.
            return _accepted(uuid.UUID(stored.decode()), data)
        return _refused(stored)
    if kind == "refused":
        _REFUSED.inc()
        return _refused(result[2])
    if kind == "reused":
        raise KeyReused()
    if kind == "unknown":
        raise EventNotFound(field="event_id")
    raise Busy("The event could not be looked up; try again.", headers={"Retry-After": "1"})


async def _gate(res: Resources, script_keys: list[str], args: list[str | bytes | int]) -> Any:
    if GUARDS.atomic_idempotency_claim:
        return await res.redis_batch.call(S.place_order, script_keys, args)
    # The same script in two calls: the key's lookup, then (when unused) the rest.
    looked = await res.redis_batch.call(S.place_order, script_keys, [*args, "lookup"])
    if looked[0] != b"fresh":
        return looked
    return await res.redis_batch.call(S.place_order, script_keys, [*args, "claim"])


async def unreserved_tickets(redis: ArqRedis, *, event_id: uuid.UUID) -> int:
    """Tickets of the event's accepted orders that the worker has not reserved yet."""
    total = await redis.hget(keys.orders_unreserved(event_id), "total")  # type: ignore[misc]
    return int(total or 0)


async def release_unreserved(redis: ArqRedis, *, event_id: uuid.UUID, order_ids: Iterable[uuid.UUID]) -> int:
    """Take orders whose reserve step has committed out of the event's unreserved count;
    an order already taken out is skipped. Returns the tickets released."""
    ids = [str(i) for i in order_ids]
    if not ids:
        return 0
    released: int = await S.release_unreserved(
        redis,
        [
            keys.orders_unreserved(event_id),
            keys.orders_unreserved_seq(event_id),
            keys.orders_unreserved_types(event_id),
        ],
        ids,
    )
    return released


async def earlier_unreserved(
    redis: ArqRedis, *, event_id: uuid.UUID, order_ids: Iterable[uuid.UUID], max_seq: int
) -> list[tuple[int, int]]:
    """(seq, quantity) of the event's accepted orders that are not reserved yet, ahead of
    `max_seq` and not among `order_ids`, in seq order (first come, first served)."""
    flat = await S.earlier_unreserved(
        redis,
        [keys.orders_unreserved(event_id), keys.orders_unreserved_seq(event_id)],
        [*(str(i) for i in order_ids), max_seq],
    )
    return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]


# Misses being filled in this process: a cold cache under a burst reads each event once.
_filling: dict[uuid.UUID, asyncio.Task[bool]] = {}


async def _fill_meta_on_miss(res: Resources, *, event_id: uuid.UUID) -> None:
    task = _filling.get(event_id)
    if task is None:
        task = asyncio.create_task(_read_meta(res, event_id=event_id))
        _filling[event_id] = task
        task.add_done_callback(lambda _: _filling.pop(event_id, None))
    try:
        await asyncio.shield(task)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        raise Busy(
            "The event is not cached and the database did not answer in time; try again.",
            headers={"Retry-After": "1"},
        ) from None


async def _read_meta(res: Resources, *, event_id: uuid.UUID) -> bool:
    async with asyncio.timeout(META_MISS_TIMEOUT_S), res.pool.acquire() as conn:
        return await refresh_event_meta(conn, res.redis, event_id=event_id)


def _meta_fields(row: Mapping[str, Any]) -> dict[str, str | int]:
    fields: dict[str, str | int] = {
        "max_per_customer": row["max_per_customer"],
        "waiting_room": int(row["waiting_room"]),
        "closed": int(row["closed"]),
        "opens_ms": row["opens_ms"] or 0,
        "starts_ms": row["starts_ms"],
    }
    # Each ticket type's own window: "<opens ms>,<closes ms>", either empty (place_order.lua).
    for name, opens, closes in zip(
        row.get("type_names") or (),
        row.get("type_opens_ms") or (),
        row.get("type_closes_ms") or (),
        strict=True,
    ):
        fields[f"type:{name}"] = f"{'' if opens is None else opens},{'' if closes is None else closes}"
    return fields


async def refresh_event_meta(conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID) -> bool:
    """Copy what the order gate needs of one event into Redis. Call after creating or
    changing an event (after commit). Returns False (and caches the miss) when unknown."""
    row = await conn.fetchrow(Q.order_gate_meta, event_id)
    if row is None:
        await S.cache_missing_event(redis, [keys.event_meta(event_id)], [MISSING_TTL_S])
        return False
    await cache_event_meta(redis, rows=[row])
    return True


async def cache_event_meta(redis: ArqRedis, *, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write the gate facts of these events (rows of `order_gate_meta`), replacing any
    negative entry."""
    count = 0
    async with redis.pipeline(transaction=True) as pipe:
        for row in rows:
            key = keys.event_meta(row["id"])
            pipe.delete(key)
            pipe.hset(key, mapping=_meta_fields(row))
            count += 1
        if count:
            await pipe.execute()
    return count


def _purchase(r: Mapping[str, Any]) -> OrderPurchase:
    return OrderPurchase(
        id=r["id"],
        ticket_id=r["ticket_id"],
        section=r["section"],
        row=r["row_label"],
        number=r["seat_number"],
        price_cents=r["price_cents"],
        created_at=r["created_at"],
    )


class OrderRow(msgspec.Struct, frozen=True):
    """An order as PostgreSQL has it, with what notifications need."""

    order: Order
    customer_id: uuid.UUID
    customer_name: str
    hold_id: uuid.UUID | None


async def load_orders(conn: Connection, *, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, OrderRow]:
    """Orders by id as the API shows them (purchases when confirmed, reason when rejected)."""
    rows = await conn.fetch(Q.get_orders, order_ids)
    if not rows:
        return {}
    confirmed = [r["id"] for r in rows if r["status"] == "confirmed"]
    purchases: dict[uuid.UUID, list[OrderPurchase]] = {}
    if confirmed:
        for p in await conn.fetch(Q.get_order_purchases, confirmed):
            purchases.setdefault(p["order_id"], []).append(_purchase(p))
    found = {}
    for r in rows:
        bought = purchases.get(r["id"])
        order = Order(
            id=r["id"],
            status=r["status"],
            event_id=r["event_id"],
            quantity=r["quantity"],
            accepted_at=r["accepted_at"],
            decided_at=r["decided_at"],
            ticket_type=r["ticket_type"],
            reason=r["reason"],
            total_cents=sum(p.price_cents for p in bought) if bought else None,
            purchases=bought if r["status"] == "confirmed" else None,
        )
        found[r["id"]] = OrderRow(
            order=order, customer_id=r["customer_id"], customer_name=r["customer_name"], hold_id=r["hold_id"]
        )
    return found


PROVIDER_SLOW_NOTICE = "The payment provider is slow; your place is kept and we keep trying."


def _deadline(raw: bytes | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(raw) / 1000, dt.UTC) if raw else None


def order_from_record(order_id: uuid.UUID, record: Mapping[bytes, bytes]) -> Order:
    """An order PostgreSQL does not have yet, from its Redis record."""
    reason = record.get(b"reason", b"").decode() or None
    status = record[b"status"].decode()
    waiting = status == "queued" and b"notice" in record
    return Order(
        id=order_id,
        status=status,
        event_id=uuid.UUID(record[b"event_id"].decode()),
        quantity=int(record[b"quantity"]),
        accepted_at=dt.datetime.fromtimestamp(int(record[b"accepted_ms"]) / 1000, dt.UTC),
        ticket_type=record[b"ticket_type"].decode() if record.get(b"ticket_type") else None,
        reason=reason,
        notice=record[b"notice"].decode() if waiting else None,
        payment_deadline=_deadline(record.get(b"pay_until_ms")) if waiting else None,
    )


async def with_payment_notice(redis: ArqRedis, order: Order) -> Order:
    """A queued order waiting for the payment provider, with the notice its record keeps."""
    if order.status != "queued":
        return order
    notice, until = await redis.hmget(keys.order(order.id), ["notice", "pay_until_ms"])  # type: ignore[misc]
    if not notice:
        return order
    return msgspec.structs.replace(order, notice=notice.decode(), payment_deadline=_deadline(until))


async def get_order(conn: Connection, redis: ArqRedis, *, order_id: uuid.UUID, principal: Principal) -> Order:
    """The order from PostgreSQL, or — accepted but not yet written there — from Redis."""
    found = (await load_orders(conn, order_ids=[order_id])).get(order_id)
    if found is not None:
        _check_owner(principal, found.customer_id)
        return await with_payment_notice(redis, found.order)
    record = await redis.hgetall(keys.order(order_id))  # type: ignore[misc]
    if not record:
        raise OrderNotFound()
    _check_owner(principal, uuid.UUID(record[b"customer_id"].decode()))
    return order_from_record(order_id, record)


def _check_owner(principal: Principal, customer_id: uuid.UUID) -> None:
    if not principal.is_admin and principal.customer_id != customer_id:
        raise Forbidden("A customer may only see their own orders.")

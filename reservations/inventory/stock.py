"""Stock counters of an event: a snapshot per stock version, and the one hook every
change of ticket state calls.

PostgreSQL is the truth; the snapshot only answers reads fast. `stock_changed` drops the
snapshot and moves the event's stock version on in one Redis step (`lua/stock_changed.lua`,
batched with the other calls of the loop turn; the counters and the seat map are read from
PostgreSQL once per version: `get_stock`, `events/seatmap.py`), enqueues the coalesced live
push with arq's `enqueue_job` (`keys.PUSH_STOCK_JOB`; the same step's gate lets one change
per push delay enqueue it, and a job id per event makes the rest of a burst enqueue it
once), and tells the listeners plugged in through `reservations.hooks` (the waiting room's
advance).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from uuid import UUID

import msgspec
from arq.connections import ArqRedis
from redis.asyncio.client import Pipeline

from core.db import DATABASE_BUSY, Connection
from core.redis import Scripts, batcher_for
from reservations import hooks, keys
from reservations.errors import EventNotFound
from reservations.inventory import service as tickets

# The counters' snapshot stands while the version does, and at most this long: the bound
# on stale counters after a change whose `stock_changed` was lost (Redis down just then),
# which moved no version.
SNAPSHOT_TTL_MS = 15_000
# How long the last counters read from PostgreSQL may stand in for it while it is busy.
LAST_KNOWN_TTL_S = 300
LIVE_PUSH_DELAY_S = 0.25
# The gate turns away a burst's other enqueues (three Redis round trips each) for most of
# the delay; past it a change enqueues again, and arq's job id still makes that once.
LIVE_PUSH_GATE_MS = int(LIVE_PUSH_DELAY_S * 1000 * 0.8)
# An event whose seat delta costs more (a stadium's 50,000 seats: 55 to 80 ms) is pushed at
# most once per this many times that, so its pushes take a bounded share of the worker and
# PostgreSQL however large its map. The counters alone cost the same at any size: a
# general-admission event (the flash sale, whose order gate reads the count the push
# writes) keeps the usual delay.
LIVE_PUSH_COST_FACTOR = 10

S = Scripts(Path(__file__).resolve().parent / "lua")


class TypeStock(msgspec.Struct, frozen=True):
    """The counters of one ticket type (a section) of the event."""

    name: str
    sold: int
    held: int
    available: int
    on_sale: bool = True  # its own sale window is open now


class Stock(msgspec.Struct, frozen=True):
    capacity: int
    sold: int
    held: int
    available: int  # on sale to anyone: tickets kept for the waitlist's offers are not
    types: tuple[TypeStock, ...] = ()  # per ticket type, by name; empty without sections

    def selling_now(self) -> tuple[int, int]:
        """(left, held) of the tickets that may be sold now: those available or held, of
        no ticket type or of a type whose own sale window is open; a type before or after
        its window, and tickets kept for the waitlist, are left out. The waiting room's
        admission bound (waitingroom/service/admission.py) is taken over these."""
        shut = [t for t in self.types if not t.on_sale]
        held = self.held - sum(t.held for t in shut)
        return self.available - sum(t.available for t in shut) + held, held


class _Snapshot(msgspec.Struct, array_like=True):
    """The counters filed in Redis under the stock version they were read at."""

    version: int
    stock: Stock


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Stock)
_snapshot_dec = msgspec.msgpack.Decoder(_Snapshot)


async def get_stock(conn: Connection, redis: ArqRedis, *, event_id: UUID) -> Stock:
    """Counters of one event from its snapshot at the current stock version: PostgreSQL is
    read once per version (as the seat map, `events/seatmap.py`), when a ticket type's sale
    window opens or closes, which moves `on_sale` with no change of stock, and at least
    every SNAPSHOT_TTL_MS. Never
    stale: the version is read before the rows, so counters filed under a version are at
    least as new as it, and a reader after a change's `stock_changed` sees a newer one.

    While PostgreSQL is busy (a lock or a timeout of the read class): the last counters
    read, up to LAST_KNOWN_TTL_S old, or the busy error when there are none."""
    raw_version, cached = await batcher_for(redis).command(
        "MGET", keys.seat_version(event_id), keys.stock(event_id)
    )
    version = int(raw_version) if raw_version is not None else await stock_version(redis, event_id=event_id)
    if cached is not None:
        snapshot = _snapshot_dec.decode(cached)
        if snapshot.version == version:
            return snapshot.stock
    try:
        stock, turns_in_ms = await _read_stock(conn, event_id=event_id)
    except DATABASE_BUSY:
        last = await redis.get(keys.stock_last(event_id))
        if last is None:
            raise
        return _dec.decode(last)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.stock(event_id), _enc.encode(_Snapshot(version, stock)), px=turns_in_ms)
        pipe.set(keys.stock_last(event_id), _enc.encode(stock), ex=LAST_KNOWN_TTL_S)
        await pipe.execute()
    return stock


async def read_stock(conn: Connection, *, event_id: UUID) -> Stock:
    """Counters straight from the ticket rows, bypassing the snapshot."""
    stock, _ = await _read_stock(conn, event_id=event_id)
    return stock


async def _read_stock(conn: Connection, *, event_id: UUID) -> tuple[Stock, int]:
    """(counters, how long they stand in ms: until a type's sale window next opens or
    closes, at most SNAPSHOT_TTL_MS)."""
    rows = await tickets.event_stock(conn, event_id=event_id)
    if not rows:
        raise EventNotFound()
    types = tuple(
        TypeStock(
            name=r["section"], sold=r["sold"], held=r["held"], available=r["available"], on_sale=r["on_sale"]
        )
        for r in rows
        if r["section"] is not None
    )
    stock = Stock(
        capacity=rows[0]["capacity"],
        sold=sum(r["sold"] for r in rows),
        held=sum(r["held"] for r in rows),
        available=sum(r["available"] for r in rows),
        types=types,
    )
    turns = [r["turns_in_ms"] for r in rows if r["turns_in_ms"] is not None]
    return stock, max(1, min([SNAPSHOT_TTL_MS, *turns]))


async def stock_changed(redis: ArqRedis, *, event_id: UUID, tickets_back: bool = True) -> int:
    """Call after a transaction that changed ticket states of `event_id` has committed.
    Returns the event's new stock version.

    `tickets_back=False` (a new hold: tickets only left the sale) skips the listeners,
    which act on tickets coming back.
    """
    script_keys = [
        keys.stock(event_id),
        keys.seat_version(event_id),
        keys.live_push_gate(event_id),
        keys.live_push_cost(event_id),
    ]
    version, gate_ms = await batcher_for(redis).call(
        S.stock_changed, script_keys, [time.time_ns() // 1000, LIVE_PUSH_GATE_MS, LIVE_PUSH_COST_FACTOR]
    )
    if gate_ms:
        await redis.enqueue_job(
            keys.PUSH_STOCK_JOB,
            str(event_id),
            _job_id=keys.push_stock_job_id(event_id),
            _defer_by=LIVE_PUSH_DELAY_S * int(gate_ms) / LIVE_PUSH_GATE_MS,  # past the gate
        )
    if tickets_back:
        await hooks.stock_changed(redis, event_id)
    return int(version)


async def stock_version(redis: ArqRedis, *, event_id: UUID) -> int:
    """The event's stock version now; a missing counter is started (above any earlier one)."""
    raw = await batcher_for(redis).command("GET", keys.seat_version(event_id))
    if raw is None:
        await redis.set(keys.seat_version(event_id), time.time_ns() // 1000, nx=True)
        raw = await redis.get(keys.seat_version(event_id))
    return int(raw or 0)


def queue_gate_stock(
    pipe: Pipeline, *, event_id: UUID, available: int, types: Mapping[str, int] | None = None
) -> None:
    """Add to `pipe` what the order gate keeps of the stock: the AVAILABLE count it bounds
    accepted, unreserved orders by (per ticket type too, when `types` is given), and the
    sold-out flag when nothing is left."""
    pipe.set(keys.available(event_id), available)
    for name, count in (types or {}).items():
        pipe.set(keys.available_type(event_id, name), count)
    if available == 0:
        pipe.set(keys.sold_out(event_id), b"1")
    else:
        pipe.delete(keys.sold_out(event_id))


async def cache_gate_stock(
    redis: ArqRedis, *, event_id: UUID, available: int, types: Mapping[str, int] | None = None
) -> None:
    """Write the order gate's stock of one event (and of its ticket types) from a fresh
    PostgreSQL count."""
    async with redis.pipeline(transaction=True) as pipe:
        queue_gate_stock(pipe, event_id=event_id, available=available, types=types)
        await pipe.execute()

"""Stock counters of an event: read through a short-lived Redis cache, and the one hook
every change of ticket state calls.

PostgreSQL is the truth; the cache only answers reads fast. `stock_changed`, in one
Redis step (`lua/stock_changed.lua`, batched with the other calls of the loop turn), drops
the cache, moves the event's stock version on (the seat map is a snapshot per version:
`events/seatmap.py`), enqueues the coalesced live push (`keys.PUSH_STOCK_JOB`; a job id
per event makes a burst of changes enqueue it once) and any job the caller adds; then it
tells the listeners plugged in through `reservations.hooks` (the waiting room's advance).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import msgspec
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.asyncio.client import Pipeline

from core import queues
from core.db import Connection
from core.redis import Scripts, batcher_for
from reservations import hooks, keys
from reservations.errors import EventNotFound
from reservations.inventory import service as tickets

CACHE_TTL_MS = 1000
LIVE_PUSH_DELAY_S = 0.25

S = Scripts(Path(__file__).resolve().parent / "lua")


@dataclass(frozen=True, slots=True)
class Job:
    """An arq job of the default queue for `stock_changed` to enqueue with its own step."""

    name: str
    args: tuple[str, ...]
    job_id: str
    run_at_ms: int


class Stock(msgspec.Struct, frozen=True):
    capacity: int
    sold: int
    held: int
    available: int


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Stock)


async def get_stock(conn: Connection, redis: ArqRedis, *, event_id: UUID) -> Stock:
    """Counters of one event; at most CACHE_TTL_MS old, and fresh after any change."""
    cached = await redis.get(keys.stock(event_id))
    if cached is not None:
        return _dec.decode(cached)
    stock = await read_stock(conn, event_id=event_id)
    await redis.set(keys.stock(event_id), _enc.encode(stock), px=CACHE_TTL_MS)
    return stock


async def read_stock(conn: Connection, *, event_id: UUID) -> Stock:
    """Counters straight from the ticket rows, bypassing the cache."""
    row = await tickets.event_stock(conn, event_id=event_id)
    if row is None:
        raise EventNotFound()
    return Stock(capacity=row["capacity"], sold=row["sold"], held=row["held"], available=row["available"])


async def stock_changed(
    redis: ArqRedis, *, event_id: UUID, jobs: Sequence[Job] = (), tickets_back: bool = True
) -> int:
    """Call after a transaction that changed ticket states of `event_id` has committed.
    Returns the event's new stock version.

    `jobs` are enqueued in the same step. `tickets_back=False` (a new hold: tickets only
    left the sale) skips the listeners, which act on tickets coming back.
    """
    now_ms = int(time.time() * 1000)
    push = Job(
        keys.PUSH_STOCK_JOB,
        (str(event_id),),
        keys.push_stock_job_id(event_id),
        now_ms + int(LIVE_PUSH_DELAY_S * 1000),
    )
    script_keys = [keys.stock(event_id), keys.seat_version(event_id), queues.DEFAULT_QUEUE]
    args: list[str | bytes | int] = [time.time_ns() // 1000, now_ms]
    for job in (push, *jobs):
        script_keys += [job_key_prefix + job.job_id, result_key_prefix + job.job_id]
        args += [job.job_id, serialize_job(job.name, job.args, {}, None, now_ms), job.run_at_ms]
    version = int(await batcher_for(redis).call(S.stock_changed, script_keys, args))
    if tickets_back:
        await hooks.stock_changed(redis, event_id)
    return version


async def stock_version(redis: ArqRedis, *, event_id: UUID) -> int:
    """The event's stock version now; a missing counter is started (above any earlier one)."""
    raw = await batcher_for(redis).command("GET", keys.seat_version(event_id))
    if raw is None:
        await redis.set(keys.seat_version(event_id), time.time_ns() // 1000, nx=True)
        raw = await redis.get(keys.seat_version(event_id))
    return int(raw or 0)


def queue_gate_stock(pipe: Pipeline, *, event_id: UUID, available: int) -> None:
    """Add to `pipe` what the order gate keeps of the stock: the AVAILABLE count it bounds
    accepted, unreserved orders by, and the sold-out flag when nothing is left."""
    pipe.set(keys.available(event_id), available)
    if available == 0:
        pipe.set(keys.sold_out(event_id), b"1")
    else:
        pipe.delete(keys.sold_out(event_id))


async def cache_gate_stock(redis: ArqRedis, *, event_id: UUID, available: int) -> None:
    """Write the order gate's stock of one event from a fresh PostgreSQL count."""
    async with redis.pipeline(transaction=True) as pipe:
        queue_gate_stock(pipe, event_id=event_id, available=available)
        await pipe.execute()

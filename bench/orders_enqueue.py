"""What an accepted order costs Redis, and what consuming it costs: arq against a Redis Stream.

    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python -m bench.orders_enqueue [N]

Producer side, per order (sequential, one client; then 100 in flight):
  ping          one PING: the round-trip ceiling on this machine
  arq           `ArqRedis.enqueue_job`: WATCH + EXISTS + MULTI/PSETEX/ZADD/EXEC
  gate+arq      `lua/place_order.lua`: idempotency, gate, record, arq job — one EVALSHA
  gate+stream   the same gate in Lua but XADD to a stream instead of the arq job (bench-only)
Consumer side, N no-op jobs:
  arq worker    a burst-mode arq Worker, max_jobs=100
  stream group  XREADGROUP COUNT 100 + XACK per batch, one consumer

Uses only keys under `bench:` and the queues it creates, and deletes them at the end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis, create_pool
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.worker import Worker, func

from core.resources import redis_settings

PLACE_ORDER = (
    Path(__file__).resolve().parent.parent / "reservations" / "lua" / "place_order.lua"
).read_text()
# The same decisions, but the order goes to a stream (KEYS[7] stream; KEYS[8] unused).
GATE_STREAM = PLACE_ORDER.replace(
    "redis.call('SET', KEYS[7], ARGV[7], 'PX', ARGV[8])\nredis.call('ZADD', KEYS[8], now, ARGV[5])",
    "redis.call('XADD', KEYS[7], '*', 'order', ARGV[5])",
)
assert GATE_STREAM != PLACE_ORDER


async def timed(label: str, n: int, make: Callable[[int], Awaitable[Any]], *, inflight: int = 1) -> float:
    start = time.perf_counter()
    if inflight == 1:
        for i in range(n):
            await make(i)
    else:
        sem = asyncio.Semaphore(inflight)

        async def one(i: int) -> None:
            async with sem:
                await make(i)

        await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    print(f"  {label:<28} {elapsed / n * 1e6:8.1f} µs/op   {n / elapsed:9.0f} ops/s")
    return n / elapsed


def report(label: str, n: int, elapsed: float) -> None:
    print(f"  {label:<28} {elapsed / n * 1e6:8.1f} µs/job   {n / elapsed:9.0f} jobs/s")


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def main(n: int) -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    redis: ArqRedis = await create_pool(redis_settings(url))
    run = uuid.uuid4().hex[:8]
    event = uuid.uuid4()
    meta = f"bench:{run}:meta"
    await redis.hset(
        meta,
        mapping={"max_per_customer": 1, "waiting_room": 0, "closed": 0, "opens_ms": 0, "starts_ms": 2**50},
    )
    place = redis.register_script(PLACE_ORDER)
    gate_stream = redis.register_script(GATE_STREAM)
    stream = f"bench:{run}:stream"
    arq_queue = f"bench:{run}:arq"

    def gate_args(i: int) -> tuple[list[str], list[Any]]:
        order_id = f"{run}-{i}"
        payload = serialize_job("bench.noop", (), {}, None, int(time.time() * 1000))
        keys = [
            f"bench:{run}:idem:{i}",
            meta,
            f"bench:{run}:soldout",
            f"bench:{run}:counts",
            f"bench:{run}:order:{i}",
            f"bench:{run}:pending",
            job_key_prefix + order_id,
            arq_queue,
        ]
        args = [
            "fp",
            86400,
            f"customer-{i}",
            1,
            order_id,
            b"{}",
            payload,
            86_400_000,
            str(event),
            "4242",
            "",
            3600,
        ]
        return keys, args

    print(f"Redis {url}, {n} operations each; Python {sys.version.split()[0]}")
    print("producer, sequential:")
    await timed("ping (ceiling)", n, lambda i: redis.ping())
    await timed(
        "arq enqueue_job",
        n,
        lambda i: redis.enqueue_job("bench.noop", _job_id=f"a{run}-{i}", _queue_name=arq_queue + "x"),
    )

    async def gate_arq(i: int) -> Any:
        keys, args = gate_args(i)
        return await place(keys=keys, args=args)

    async def gate_xadd(i: int) -> Any:
        keys, args = gate_args(i + n)
        keys[6] = stream
        return await gate_stream(keys=keys, args=args)

    await timed("gate+arq (one EVALSHA)", n, gate_arq)
    await timed("gate+stream (one EVALSHA)", n, gate_xadd)
    print("producer, 100 in flight:")
    await timed("ping (ceiling)", n, lambda i: redis.ping(), inflight=100)
    await timed(
        "arq enqueue_job",
        n,
        lambda i: redis.enqueue_job("bench.noop", _job_id=f"b{run}-{i}", _queue_name=arq_queue + "y"),
        inflight=100,
    )
    await timed("gate+arq (one EVALSHA)", n, lambda i: gate_arq(i + 2 * n), inflight=100)
    await timed("gate+stream (one EVALSHA)", n, lambda i: gate_xadd(i + 2 * n), inflight=100)

    print("consumer, no-op jobs:")
    logging.getLogger("arq").setLevel(logging.WARNING)
    worker = Worker(
        functions=[func(noop, name="bench.noop")],
        queue_name=arq_queue,
        redis_settings=redis_settings(url),
        burst=True,
        max_jobs=100,
        poll_delay=0.01,
        keep_result=0,
        handle_signals=False,
    )
    queued = await redis.zcard(arq_queue)
    start = time.perf_counter()
    await worker.main()
    elapsed = time.perf_counter() - start
    report("arq worker (max_jobs=100)", queued, elapsed)
    await worker.close()

    await redis.xgroup_create(stream, "deciders", id="0")
    total = await redis.xlen(stream)
    start = time.perf_counter()
    done = 0
    while done < total:
        batch = await redis.xreadgroup("deciders", "c1", {stream: ">"}, count=100)
        ids = [entry_id for _, entries in batch for entry_id, _ in entries]
        if ids:
            await redis.xack(stream, "deciders", *ids)
        done += len(ids)
    elapsed = time.perf_counter() - start
    report("stream group (batches of 100)", total, elapsed)

    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=f"bench:{run}*", count=1000)
        if found:
            await redis.delete(*found)
        if cursor == 0:
            break
    for prefix in (f"a{run}-", f"b{run}-", f"{run}-"):
        cursor = 0
        while True:
            cursor, found = await redis.scan(cursor, match=f"arq:*{prefix}*", count=1000)
            if found:
                await redis.delete(*found)
            if cursor == 0:
                break
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))

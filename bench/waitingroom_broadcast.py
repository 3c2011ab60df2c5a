"""Waiting-room fan-out: one broadcast per event per tick vs one message per visitor.

One process plays the admission job (publisher) and one API instance (a single Redis
subscriber connection serving N sockets, as Litestar's channels backend does). Per tick:

- per_visitor: the job reads every place (ZRANGE) and publishes one message per visitor
  channel; the instance receives N messages.
- broadcast: the job publishes one `tick` message; the instance receives it once and
  works out N positions locally (rank at last read - admissions since).
- broadcast_exact: as broadcast, plus one pipelined ZRANK per visitor from the instance
  (exact positions at every tick, the cost moved to the API side).

Measured per tick: wall time from the job starting until the instance has every
position, Redis commands, Redis CPU (INFO cpu, user+sys), messages delivered. The
ceiling is one PING round trip on the same connection. Sending the N WebSocket frames
is the same in every strategy and is not counted.

    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python -m bench.waitingroom_broadcast
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from redis.asyncio import Redis

from core.realtime import Publisher
from core.redis import create_redis

PREFIX = "bench:wr"


async def redis_cpu_s(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def commands(redis: Redis) -> int:
    info = await redis.info("stats")
    return int(info["total_commands_processed"])


class Instance:
    """One API instance: a subscriber connection and the sockets' local state."""

    def __init__(self, redis: Redis, visitors: list[str]) -> None:
        self.redis = redis
        self.visitors = visitors
        self.rank = {v: i for i, v in enumerate(visitors)}
        self.pubsub = redis.pubsub()

    async def subscribe(self, channels: list[str]) -> None:
        for i in range(0, len(channels), 1000):
            await self.pubsub.subscribe(*channels[i : i + 1000])
        confirmed = 0
        while confirmed < len(channels):
            m = await self.pubsub.get_message(timeout=1)
            if m and m["type"] == "subscribe":
                confirmed += 1

    async def receive(self, n: int) -> list[bytes]:
        out: list[bytes] = []
        while len(out) < n:
            m = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if m is None:
                raise RuntimeError(f"only {len(out)} of {n} messages arrived")
            out.append(m["data"])
        return out

    async def close(self) -> None:
        await self.pubsub.aclose()


async def measure(
    redis: Redis, name: str, ticks: int, run_tick: Callable[[], Awaitable[int]]
) -> dict[str, Any]:
    await run_tick()  # warm up
    walls, delivered = [], 0
    cpu0, cmd0 = await redis_cpu_s(redis), await commands(redis)
    for _ in range(ticks):
        t0 = time.perf_counter()
        delivered += await run_tick()
        walls.append(time.perf_counter() - t0)
    cpu1, cmd1 = await redis_cpu_s(redis), await commands(redis)
    return {
        "strategy": name,
        "wall_ms_median": statistics.median(walls) * 1000,
        "wall_ms_max": max(walls) * 1000,
        "redis_cpu_ms": (cpu1 - cpu0) * 1000 / ticks,
        "redis_commands": (cmd1 - cmd0 - 2) / ticks,  # minus the two INFO calls
        "messages": delivered / ticks,
    }


async def bench(url: str, n: int, ticks: int) -> list[dict[str, Any]]:
    job = create_redis(url)
    api = create_redis(url)
    publisher = Publisher(job)
    queue = f"{PREFIX}:{{e}}:queue"
    visitors = [str(uuid.uuid4()) for _ in range(n)]
    await job.delete(queue)
    for i in range(0, n, 5000):
        await job.zadd(queue, {v: i + j for j, v in enumerate(visitors[i : i + 5000])})
    results = []
    served = 0

    # per visitor
    inst = Instance(api, visitors)
    channels = [f"{PREFIX}.e.{v}" for v in visitors]
    await inst.subscribe(channels)

    async def per_visitor() -> int:
        members = await job.zrange(queue, 0, -1)
        for rank, member in enumerate(members):
            await publisher.publish(
                f"{PREFIX}.e.{member.decode()}", {"type": "position", "position": rank + 1, "eta_s": 10}
            )
        got = await inst.receive(len(members))
        positions = [msgspec.json.decode(m)["position"] for m in got]
        return len(positions)

    results.append(await measure(job, "per_visitor", ticks, per_visitor))
    await inst.close()

    # broadcast
    inst = Instance(api, visitors)
    await inst.subscribe([f"{PREFIX}.e"])

    async def broadcast() -> int:
        nonlocal served
        served += 1
        await publisher.publish(
            f"{PREFIX}.e", {"type": "tick", "state": "open", "served": served, "rate": 10.0}
        )
        (raw,) = await inst.receive(1)
        tick = msgspec.json.decode(raw)
        positions = [max(1, inst.rank[v] + 1 - tick["served"]) for v in inst.visitors]
        assert len(positions) == n
        return 1

    results.append(await measure(job, "broadcast", ticks, broadcast))

    async def broadcast_exact() -> int:
        nonlocal served
        served += 1
        await publisher.publish(
            f"{PREFIX}.e", {"type": "tick", "state": "open", "served": served, "rate": 10.0}
        )
        await inst.receive(1)
        async with api.pipeline(transaction=False) as pipe:
            for v in inst.visitors:
                pipe.zrank(queue, v)
            ranks = await pipe.execute()
        assert len(ranks) == n
        return 1

    results.append(await measure(job, "broadcast_exact", ticks, broadcast_exact))
    await inst.close()

    t0 = time.perf_counter()
    for _ in range(100):
        await job.ping()
    ping_ms = (time.perf_counter() - t0) * 10
    results.append(
        {
            "strategy": "ceiling: PING",
            "wall_ms_median": ping_ms,
            "wall_ms_max": ping_ms,
            "redis_cpu_ms": 0.0,
            "redis_commands": 1,
            "messages": 0,
        }
    )
    await job.delete(queue)
    await job.aclose()
    await api.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--ticks", type=int, default=10)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {url}"
    )
    print(
        "| visitors | strategy | wall ms (median) | wall ms (max) | Redis CPU ms | Redis commands"
        " | messages |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in args.visitors:
        for r in asyncio.run(bench(url, n, args.ticks)):
            print(
                f"| {n} | {r['strategy']} | {r['wall_ms_median']:.2f} | {r['wall_ms_max']:.2f} | "
                f"{r['redis_cpu_ms']:.2f} | {r['redis_commands']:.0f} | {r['messages']:.0f} |"
            )


if __name__ == "__main__":
    main()

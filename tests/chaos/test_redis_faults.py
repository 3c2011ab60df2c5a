"""Redis and orders-worker faults in the middle of a sale, on real processes and servers
(docs/reliability.md has the figures of `make chaos`)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from arq.connections import create_pool
from arq.jobs import JobStatus
from redis import Redis as SyncRedis

from core.queues import ORDERS_GROUP, ORDERS_QUEUE
from core.resources import Resources, redis_settings
from tests.chaos.conftest import (
    SCALE,
    RedisServer,
    SentinelServer,
    System,
    assert_sale_survived,
    run_sale,
    scaled,
)

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120 * max(1.0, SCALE))]

CAPACITY, BUYERS = scaled(30), scaled(40)


async def test_redis_killed_mid_sale_and_restarted_from_its_aof(
    res: Resources, redis_servers: Callable[..., RedisServer], system_factory: Callable[..., System]
) -> None:
    redis = redis_servers()
    system = system_factory({"REDIS_URL": redis.url})
    down_s = 1.0

    async def kill_and_restart() -> None:
        redis.kill()
        await asyncio.sleep(down_s)
        await asyncio.to_thread(redis.start)  # same port, same folder: the AOF is read back

    result = await run_sale(system, res.pool, capacity=CAPACITY, buyers=BUYERS, fault=kill_and_restart)
    figures = await assert_sale_survived(res.pool, system, result)
    system.assert_all_alive()  # nobody restarted them: each process rode through the loss
    # The loss reached them, and each came back by itself: a new arq Worker in the same
    # process runs the crons again; the API's pub/sub is subscribed again.
    assert "default-queue worker stopped" in system.log("worker")
    assert "pub/sub reconnected" in system.log("api")
    await _default_queue_runs_jobs(redis)
    print(f"redis kill -9 ({down_s} s down): {figures}")


async def test_an_orders_worker_killed_mid_sale_has_its_orders_taken_over_within_5_s(
    res: Resources, redis_servers: Callable[..., RedisServer], system_factory: Callable[..., System]
) -> None:
    redis = redis_servers()
    system = system_factory({"REDIS_URL": redis.url, "ORDERS_PER_S": "40"}, orders_workers=2)
    system.launcher.supervise()  # as `make run` does: the killed one comes back
    victim = system.orders_names[0]
    taken_over_s: list[float] = []

    async def kill_worker() -> None:
        pid = system.launcher.pid(victim)
        assert pid is not None
        consumer = f"{socket.gethostname()}:{pid}"
        with redis.client() as c:  # let the victim hold some entries before it dies
            await _wait_pending(c, consumer, at_least=1)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        with redis.client() as c:
            await _wait_pending(c, consumer, at_most=0, timeout_s=15)
        taken_over_s.append(time.monotonic() - killed)

    result = await run_sale(
        system, res.pool, capacity=CAPACITY, buyers=BUYERS, fault=kill_worker, fault_after=0.5
    )
    figures = await assert_sale_survived(res.pool, system, result)
    assert taken_over_s and taken_over_s[0] <= 5.0, taken_over_s
    system.assert_all_alive(restarted=frozenset({victim}))
    assert system.launcher.restarts[victim] == 1
    print(f"orders worker SIGKILL: taken over in {taken_over_s[0]:.1f} s; {figures}")


async def _default_queue_runs_jobs(redis: RedisServer) -> None:
    """A job enqueued now on the default queue is run: `holds.sweep`, enqueued by hand."""
    pool = await create_pool(redis_settings(redis.url))
    try:
        job = await pool.enqueue_job("cron:holds.sweep", _job_id=f"chaos-probe-{uuid.uuid4()}")
        assert job is not None
        deadline = time.monotonic() + 10
        while await job.status() in (JobStatus.queued, JobStatus.in_progress):
            assert time.monotonic() < deadline, "the default-queue worker runs no job after Redis came back"
            await asyncio.sleep(0.1)
    finally:
        await pool.aclose()


async def _wait_pending(
    c: SyncRedis,
    consumer: str,
    *,
    at_least: int | None = None,
    at_most: int | None = None,
    timeout_s: float = 10,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pending = {x["name"].decode(): x["pending"] for x in c.xinfo_consumers(ORDERS_QUEUE, ORDERS_GROUP)}
        n = pending.get(consumer, 0)
        if (at_least is not None and n >= at_least) or (at_most is not None and n <= at_most):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"consumer {consumer}: pending never reached the bound")


async def test_sentinel_failover_mid_sale(
    res: Resources,
    redis_binary: str,
    tmp_path: Path,
    redis_servers: Callable[..., RedisServer],
    system_factory: Callable[..., System],
) -> None:
    primary = redis_servers("primary")
    replica = redis_servers("replica", replica_of=primary.port)
    sentinel = SentinelServer(redis_binary, tmp_path / "sentinel", primary=primary.port, down_after_ms=500)
    sentinel.start()
    try:
        await _wait_replica_in_sync(primary)
        system = system_factory(
            {"REDIS_URL": "redis://ignored/0", "REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}"}
        )
        promoted_s: list[float] = []
        lag_bytes: list[int] = []

        async def kill_primary() -> None:
            # What the replica had not applied yet, a moment before: the primary's offset,
            # then the replica's own (read after it, so it can only be ahead).
            with primary.client() as p, replica.client() as r:
                written = int(p.info("replication")["master_repl_offset"])
                applied = int(r.info("replication")["slave_repl_offset"])
            lag_bytes.append(max(0, written - applied))
            killed = time.monotonic()
            primary.kill()
            while sentinel.primary_port() != replica.port:
                assert time.monotonic() - killed < 15, "the replica was never promoted"
                await asyncio.sleep(0.05)
            promoted_s.append(time.monotonic() - killed)

        result = await run_sale(system, res.pool, capacity=CAPACITY, buyers=BUYERS, fault=kill_primary)
        figures = await assert_sale_survived(res.pool, system, result)
        system.assert_all_alive()
        print(
            f"sentinel failover: replica promoted {promoted_s[0]:.1f} s after the kill, "
            f"{lag_bytes[0]} bytes behind just before it; {figures}"
        )
    finally:
        sentinel.stop()


async def _wait_replica_in_sync(primary: RedisServer) -> None:
    deadline = time.monotonic() + 10
    with primary.client() as c:
        while time.monotonic() < deadline:
            info = c.info("replication")
            if info.get("connected_slaves", 0) >= 1 and "online" in str(info.get("slave0", "")):
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the replica never synced")

"""The default-queue worker (jobs/default_worker.py) in this process, on a redis-server of
the test's own: a Redis restart stops arq's Worker, and a new one runs the next jobs."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from arq.connections import create_pool
from arq.worker import func

from core.resources import redis_settings
from jobs import default_worker
from jobs.default_worker import DefaultWorker
from tests.chaos.conftest import RedisServer

pytestmark = pytest.mark.chaos


async def test_a_new_worker_runs_the_jobs_after_redis_came_back(
    redis_servers: Callable[..., RedisServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(default_worker, "RESTART_MAX_S", 0.2)
    server = redis_servers()
    ran: list[str] = []

    async def probe(ctx: dict[str, Any], tag: str) -> None:
        ran.append(tag)

    settings = redis_settings(server.url)
    settings.conn_retries = 0  # a worker started while Redis is away fails at once
    runner = DefaultWorker(
        {
            "functions": [func(probe, name="probe")],
            "redis_settings": settings,
            "handle_signals": False,
            "poll_delay": 0.05,
        }
    )
    running = asyncio.create_task(runner.run())
    pool = await create_pool(redis_settings(server.url))
    try:
        await pool.enqueue_job("probe", "before")
        await _until(lambda: "before" in ran)

        server.kill()
        await _until(lambda: runner.restarts >= 2)  # stopped, and failed again while Redis is away
        assert not running.done()
        await asyncio.to_thread(server.start)

        await pool.enqueue_job("probe", "after")
        await _until(lambda: "after" in ran)
    finally:
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running, 10)
        await pool.aclose()
    assert running.done() and running.exception() is None


async def test_a_stop_with_a_job_running_closes_the_worker_cleanly(
    redis_servers: Callable[..., RedisServer],
) -> None:
    """A job still running at SIGTERM is cancelled by arq's handler, which then records it
    for a retry; the worker waits for that instead of cancelling the job a second time, and
    closes: its health-check key goes and the runner ends without an error. Cancelled twice,
    the job's CancelledError escaped arq's close() and left the key behind."""
    server = redis_servers()
    started = asyncio.Event()

    async def slow(ctx: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(60)

    async def bookkeeping(ctx: dict[str, Any]) -> None:
        await asyncio.sleep(0.3)  # widens the window arq's own end-of-job writes have

    runner = DefaultWorker(
        {
            "functions": [func(slow, name="slow")],
            "redis_settings": redis_settings(server.url),
            "handle_signals": False,
            "poll_delay": 0.05,
            "on_job_end": bookkeeping,
        }
    )
    running = asyncio.create_task(runner.run())
    pool = await create_pool(redis_settings(server.url))
    try:
        await pool.enqueue_job("slow")
        await asyncio.wait_for(started.wait(), 10)
        health_key = runner.worker.health_check_key  # type: ignore[union-attr]
        await _until_async(lambda: pool.exists(health_key))
        runner.worker.handle_sig(signal.SIGTERM)  # type: ignore[union-attr]  # what SIGTERM runs
        await asyncio.wait_for(asyncio.shield(running), 15)
        assert running.exception() is None
        assert await pool.exists(health_key) == 0
    finally:
        runner.stop()
        if not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        await pool.aclose()


async def _until_async(condition: Callable[[], Any], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)

"""The workers' arq `Worker` starts the jobs of one poll together: two workers sharing a
queue still run every job exactly once."""

from __future__ import annotations

import asyncio
import uuid
import warnings
from typing import Any

from arq.connections import create_pool

from core.resources import Resources, redis_settings
from jobs.arq_worker import Worker

JOBS = 400


async def record(ctx: dict[str, Any], n: int) -> int:
    await ctx["redis"].rpush(ctx["key"], n)
    await asyncio.sleep(0.01)
    return n


async def test_two_workers_run_every_job_exactly_once(res: Resources) -> None:
    queue = f"test:starts:{uuid.uuid4().hex}"
    key = f"{queue}:ran"
    settings = redis_settings(res.settings.redis_url)
    producer = await create_pool(settings)
    for n in range(JOBS):
        await producer.enqueue_job("record", n, _queue_name=queue)
    workers = [
        Worker(
            functions=[record],
            queue_name=queue,
            redis_settings=settings,
            ctx={"redis": res.redis, "key": key},
            handle_signals=False,
            burst=True,
            poll_delay=0.01,
            max_jobs=100,
            keep_result=60,
        )
        for _ in range(2)
    ]
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(w.main() for w in workers))
        ran = [int(x) for x in await res.redis.lrange(key, 0, -1)]
        assert sorted(ran) == list(range(JOBS))  # every job once, none twice
        assert sum(w.jobs_complete for w in workers) == JOBS
        assert all(w.jobs_complete > 0 for w in workers)  # both took part
        assert sum(w.jobs_failed for w in workers) == 0
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # arq 0.28 calls redis' deprecated close()
            for w in workers:
                await w.close()
        await producer.aclose()

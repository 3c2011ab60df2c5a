"""arq's worker, starting the jobs of one poll together instead of one after another.

arq 0.28 (`Worker.start_jobs`) takes the jobs it read from the queue in turn, and marks each
in progress with an optimistic transaction of four Redis round trips (WATCH, EXISTS,
ZSCORE, MULTI/EXEC) before looking at the next. On a busy worker each round trip waits its
turn in the event loop, so the orders worker started ~250 jobs a second whatever its
`max_jobs` (100 or 300 gave the same; docs/benchmarks.md). Here the same steps run for all
the jobs of one poll at once: each job is still marked in progress under WATCH, so a job
another worker took first is skipped exactly as arq skips it, and no more than `max_jobs`
run at once.
"""

from __future__ import annotations

import asyncio
import logging

from arq import worker as arq_worker
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from redis.exceptions import ResponseError, WatchError

log = logging.getLogger("arq.worker")


class Worker(arq_worker.Worker):
    async def start_jobs(self, job_ids: list[bytes]) -> None:
        await asyncio.gather(*(self._start_job(job_id.decode()) for job_id in job_ids))

    async def _start_job(self, job_id: str) -> None:
        """arq's per-job steps of `start_jobs`, for one job."""
        await self.sem.acquire()
        if self.job_counter >= self.max_jobs:
            self.sem.release()
            return
        self.job_counter += 1
        in_progress_key = in_progress_key_prefix + job_id
        async with self.pool.pipeline(transaction=True) as pipe:
            await pipe.watch(in_progress_key)
            ongoing_exists = await pipe.exists(in_progress_key)
            score = await pipe.zscore(self.queue_name, job_id)
            if ongoing_exists or not score or score > timestamp_ms():
                # started elsewhere, finished and removed, or re-enqueued with a delay
                self.job_counter -= 1
                self.sem.release()
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.psetex(in_progress_key, int(self.in_progress_timeout_s * 1000), b"1")
            try:
                await pipe.execute()
            except (ResponseError, WatchError):
                self.job_counter -= 1  # started elsewhere since the WATCH
                self.sem.release()
                log.debug("multi-exec error, job %s already started elsewhere", job_id)
                return
        task = self.loop.create_task(self.run_job(job_id, int(score)))
        task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
        self.tasks[job_id] = task

"""arq's stock `Worker` on the default queue, started again in this process when it stops
on a fault (`python -m jobs jobs.worker.WorkerSettings`).

arq's `Worker.main()` ends with the first error of its polling loop: a Redis restart, a
dropped connection, a failover, or a PostgreSQL that is not up when `on_startup` runs. The
process would exit and nothing would run hold expiry, queue advance, stock pushes or
reconcile until someone restarted it. Here each stop that is not a signal is logged, the
worker's jobs in flight are cancelled (arq retries them: their queue entries stay), its
clients are closed, and a new `Worker` from the same settings starts after a backoff
(0.1 s doubling to RESTART_MAX_S, back to the start once a worker stayed up STABLE_S).
SIGINT/SIGTERM stop it as they stop arq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping
from typing import Any

from arq.worker import Worker

from core.config import get_settings
from core.resources import create_arq_redis

log = logging.getLogger("crowdpass.jobs.worker")

RESTART_FIRST_S = 0.1
RESTART_MAX_S = 2.0
STABLE_S = 30.0
CLOSE_TIMEOUT_S = 5.0


class DefaultWorker:
    """Runs `Worker(**kwargs)` until a signal, a new one after each fault."""

    def __init__(self, kwargs: Mapping[str, Any]) -> None:
        self.kwargs = dict(kwargs)
        self.restarts = 0
        self.worker: Worker | None = None
        self._signalled = False

    def _on_stop(self, signum: Any) -> None:
        # arq also calls this from close() with SIGUSR1 when it handles no signals itself:
        # that is a worker closing, not a request to stop.
        if signum in (signal.SIGINT, signal.SIGTERM):
            self._signalled = True

    def stop(self) -> None:
        """Stop as a SIGTERM would (for a caller that keeps signals to itself)."""
        self._signalled = True
        if self.worker is not None and self.worker.main_task is not None:
            self.worker.main_task.cancel()

    async def run(self) -> None:
        delay = RESTART_FIRST_S
        while not self._signalled:
            kwargs = dict(self.kwargs)
            settings = get_settings()
            if settings.redis_sentinels:  # arq's own pool behind sentinels has no timeouts
                kwargs["redis_pool"] = await create_arq_redis(settings)
            worker = self.worker = Worker(**kwargs)
            worker.on_stop = self._on_stop
            started = time.monotonic()
            try:
                await worker.async_run()
            except asyncio.CancelledError:
                if not self._signalled:  # cancelled from outside, not by arq's signal handler
                    raise
            except Exception as exc:  # any fault: the next worker starts after a backoff
                log.warning("default-queue worker stopped (%s: %s); starting a new one in %.1f s",
                            type(exc).__name__, exc, delay)  # fmt: skip
            else:
                return  # burst mode: the queue is empty
            finally:
                await self._close(worker)
            if self._signalled:
                return
            if time.monotonic() - started >= STABLE_S:
                delay = RESTART_FIRST_S
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_S)
            self.restarts += 1

    async def _close(self, worker: Worker) -> None:
        """Close a stopped worker; its Redis may be gone, so nothing here may raise."""
        tasks = list(worker.tasks.values())
        for task in tasks:
            # A job arq's signal handler cancelled already is recording its retry (in a
            # shield); a second cancel would cut that short and end the task cancelled.
            if not task.cancelling():
                task.cancel()
        if tasks:
            done, _ = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
            for task in done:  # their errors are arq's to log; retrieved here, not left dangling
                if not task.cancelled():
                    task.exception()
        # Finished tasks leave the worker's table, as arq's own poll loop takes them out:
        # close() gathers what is left, and one that ended cancelled would raise
        # CancelledError out of it before the health-check key is deleted.
        for job_id, task in list(worker.tasks.items()):
            if task.done():
                del worker.tasks[job_id]
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await worker.close()
        except Exception as exc:  # Redis down: the health key stays, its TTL ends it
            log.info("closing the stopped worker: %s", exc)
        on_shutdown = self.kwargs.get("on_shutdown")
        if on_shutdown is not None:  # close() skips it when Redis failed first
            with contextlib.suppress(Exception):
                await on_shutdown(worker.ctx)
        with contextlib.suppress(Exception):
            await worker.pool.aclose(close_connection_pool=True)

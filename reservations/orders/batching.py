"""Group commit: callers submit one item each; items that arrive while a batch is being
processed form the next batch, processed by one call (one transaction).

Under light load a batch is a single item with no added wait; under heavy load batches
grow up to `max_size` by themselves. Several batches may run at once (`max_inflight`).
One task waits for a slot at a time, whatever the number of items submitted meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_size: int = 100,
        max_inflight: int = 1,
    ) -> None:
        self._run = run
        self._max_size = max_size
        self._slots = asyncio.Semaphore(max_inflight)
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._queued = False  # a drain is waiting for a slot (it takes whatever waits then)
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._queued:  # else the drain already waiting for a slot takes this item too
            self._spawn()
        return await future

    def _spawn(self) -> None:
        self._queued = True
        task = asyncio.create_task(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        try:
            await self._slots.acquire()
        finally:
            self._queued = False  # taken the slot (or cancelled): the next item spawns a drain
        try:
            batch, self._waiting = self._waiting[: self._max_size], self._waiting[self._max_size :]
            if self._waiting:  # more than one batch waiting: the rest goes next
                self._spawn()
            batch = [(item, f) for item, f in batch if not f.cancelled()]
            if not batch:
                return
            self.batches += 1
            self.items += len(batch)
            try:
                results = await self._run([item for item, _ in batch])
            except BaseException as exc:
                for _, f in batch:
                    if not f.done():
                        f.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
                if not isinstance(exc, Exception):
                    raise
                return
            for (_, f), result in zip(batch, results, strict=True):
                if not f.done():
                    f.set_result(result)
        finally:
            self._slots.release()

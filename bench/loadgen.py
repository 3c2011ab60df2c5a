"""The load driver: requests sent over a pool of keep-alive connections, closed loop (each
of `concurrency` senders sends its next request once the previous answer is read), and
the WebSockets the scenarios listen on. Latency: from writing a request to reading its
whole answer; rate: answers / (last answer read - first request sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from bench.httpclient import HttpError, HttpPool, Response
from bench.stats import percentile

Request = tuple[str, str, dict[str, str], bytes | None]  # method, path, headers, body
OnMessage = Callable[[Any, float], bool | None]  # a socket's message and when it came; True: stop


@dataclass
class LoadResult:
    requests: int = 0  # answers read
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # requests without an answer: connection failed, cut or timed out
    latency_ms: dict[str, float] = field(default_factory=dict)
    complete: bool = True  # False when the budget ran out first
    first_s: float = 0.0  # epoch of the first request sent
    cpu_s: float = 0.0  # CPU seconds (user + system) the server process spent meanwhile

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_cpu_s(self) -> float:  # answers per CPU second of the server: its rate per core
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0

    def figures(self) -> dict[str, object]:
        return {**self.__dict__, "rate": round(self.rate, 1), "per_cpu_s": round(self.per_cpu_s, 1)}


async def drive(
    pool: HttpPool,
    requests: Iterator[Request],
    *,
    concurrency: int,
    budget_s: float,
    on_response: Callable[[Request, Response], None] | None = None,
) -> LoadResult:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    result = LoadResult()
    last = 0.0
    deadline = time.monotonic() + budget_s

    async def sender() -> None:
        nonlocal last
        for req in requests:
            if time.monotonic() > deadline:
                result.complete = False
                return
            result.first_s = result.first_s or time.time()
            method, path, headers, body = req
            try:
                r = await pool.request(method, path, headers=headers, body=body)
            except HttpError:
                result.errors += 1
                continue
            latencies.append(r.elapsed)
            statuses[r.status] += 1
            last = time.time()
            if on_response is not None:
                on_response(req, r)

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    result.requests = len(latencies)
    result.seconds = max(0.0, last - result.first_s)
    result.statuses = dict(sorted(statuses.items()))
    result.latency_ms = {f"p{p}": round((percentile(latencies, p) or 0) * 1000, 2) for p in (50, 95, 99)}
    result.latency_ms["max"] = round(max(latencies, default=0) * 1000, 2)
    return result


class Sockets:
    """WebSockets the load side opens (`parallel` handshakes at a time), each read by a task
    of its own (or by its opener); `close()` ends them all. Failures are counted by kind."""

    def __init__(self, parallel: int = 64) -> None:
        self.open: set[ClientConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False
        self.errors: dict[str, int] = {}
        self._handshakes = asyncio.Semaphore(parallel)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    async def connect(self, url: str) -> ClientConnection:
        async with self._handshakes:
            ws = await connect(url, compression=None, ping_interval=None, open_timeout=60)
        self.open.add(ws)
        return ws

    async def listen(self, url: str, on_message: OnMessage, *, wait: bool = False) -> ClientConnection | None:
        """Open `url`, then hand each message (decoded, time received) to `on_message` until
        it returns True or the socket ends: in a task of its own, or before returning (`wait`)."""
        try:
            ws = await self.connect(url)
        except Exception as exc:
            self.error(f"ws connect: {type(exc).__name__}")
            return None
        reader = self._read(ws, on_message)
        await reader if wait else self.spawn(reader)
        return ws

    async def _read(self, ws: ClientConnection, on_message: OnMessage) -> None:
        try:
            async for raw in ws:
                if on_message(msgspec.json.decode(raw), time.time()):
                    break
        except Exception as exc:
            if not self.closing:
                self.error(f"ws: {type(exc).__name__}")
        finally:
            self.open.discard(ws)
            with contextlib.suppress(Exception):
                await ws.close()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        self.closing = True
        for ws in list(self.open):
            with contextlib.suppress(Exception):
                await ws.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)

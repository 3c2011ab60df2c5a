"""A lean HTTP/1.1 keep-alive transport for httpx (`core.payments.provider_client`).

The orders worker charges one order per request to the payment provider. Through httpx's
default transport (httpcore over anyio and h11) a request cost ~0.3 ms of CPU, the largest
share of an order's decision: the pool looks at each of its connections (a poll of the
socket through anyio's attribute lookups) on every request and every response closed, and
each request passes several layers of streams, locks, cancel scopes and h11's state
machine (docs/benchmarks.md, issue 12; ADR 0021).

Here: one asyncio protocol per connection, its answers parsed by httptools (the C parser
uvicorn runs on, installed with `uvicorn[standard]`); idle connections on a stack (the last
used goes first; one the server closed is known at once, from `connection_lost`, without a
poll); at most `max_connections` at once, a request beyond them waiting up to the pool
timeout. The client stays an `httpx.AsyncClient`: its API, timeouts and exceptions are
httpx's (`ConnectError`, `ConnectTimeout`, `ReadTimeout`, `PoolTimeout`,
`RemoteProtocolError`...).

HTTP/1.1 only, plain TCP (`core.payments.provider_client` uses it for an `http://`
provider and httpx's own transport for `https://`), request bodies of known length,
answers read whole into memory (the provider's answers are small JSON documents).
"""

from __future__ import annotations

import asyncio
from typing import cast

import httptools
import httpx


class _Answer:
    __slots__ = ("body", "headers", "keep_alive", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.keep_alive = False


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.alive = False
        self._parser = httptools.HttpResponseParser(self)
        self._answer = _Answer()
        self._waiter: asyncio.Future[_Answer] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.alive = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self._fail(httpx.RemoteProtocolError("Server disconnected without sending a complete response."))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection cannot be trusted
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.close()
            self._fail(httpx.RemoteProtocolError(f"invalid answer: {exc}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._answer.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._answer.body.append(body)

    def on_message_complete(self) -> None:
        answer = self._answer
        answer.status = self._parser.get_status_code()
        answer.keep_alive = self._parser.should_keep_alive()
        self._answer = _Answer()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def exchange(self, data: bytes, read_timeout: float | None) -> _Answer:
        if not self.alive or self.transport is None:
            raise httpx.RemoteProtocolError("Server disconnected.")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        async with asyncio.timeout(read_timeout):
            return await self._waiter

    def close(self) -> None:
        self.alive = False
        if self.transport is not None:
            self.transport.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """Up to `max_connections` keep-alive connections to one `http://` origin."""

    def __init__(self, *, max_connections: int) -> None:
        self.max_connections = max(1, max_connections)
        self._free = asyncio.Semaphore(self.max_connections)
        self._idle: list[_Connection] = []
        self.busy = 0  # requests in flight (until their answer is read)
        self.opened = 0  # connections opened since the start
        self._closed = False  # aclose() called: answers still on their way close theirs

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"http:// only, not {request.url.scheme}://", request=request)
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        data = _serialise(request, await request.aread())
        try:
            async with asyncio.timeout(timeout.get("pool")):
                await self._free.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection to the provider in time", request=request) from None
        self.busy += 1
        conn: _Connection | None = None
        try:
            conn = await self._connection(request, timeout.get("connect"))
            try:
                answer = await conn.exchange(data, timeout.get("read"))
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the answer", request=request) from None
            except httpx.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from None
            if answer.keep_alive and conn.alive and not self._closed:
                self._idle.append(conn)
                conn = None
            return httpx.Response(
                answer.status,
                headers=answer.headers,
                content=b"".join(answer.body),
                extensions={"http_version": b"HTTP/1.1"},
            )
        finally:
            if conn is not None:  # not given back: failed, cancelled or closed by the server
                conn.close()
            self.busy -= 1
            self._free.release()

    async def _connection(self, request: httpx.Request, connect_timeout: float | None) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.alive:
                return conn
        url = request.url
        port = url.port or 80
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, conn = await loop.create_connection(_Connection, url.host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connect to {url.host}:{port}: timed out", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(f"connect to {url.host}:{port}: {exc}", request=request) from None
        self.opened += 1
        return conn

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    url = request.url
    lines: list[bytes] = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), url.raw_path)]
    lines.extend(b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw)
    if body and "content-length" not in request.headers:
        lines.append(b"Content-Length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)

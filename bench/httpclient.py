"""A small HTTP/1.1 keep-alive client on asyncio streams (httpx costs the load core several
times what the server spends on a request). Visitors of a real sale come from many
addresses and the waiting room limits joins per address, so a pool may spread its
connections over loopback addresses, moving each to the next after `rotate_after` requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


class HttpError(Exception):
    """The connection failed or the answer could not be read."""


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    elapsed: float = 0.0  # seconds from writing the request to reading the whole answer


# uvicorn closes a keep-alive connection after 5 s without a request; one sent on it at
# that moment is cut off unanswered. An idle connection is reused only for less than this.
IDLE_REUSE_S = 4.0


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    uses: int = 0
    idle_since: float = 0.0

    def reusable(self) -> bool:
        return not self.reader.at_eof() and time.monotonic() - self.idle_since < IDLE_REUSE_S

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def source_addresses(count: int, *, first: str = "127.1.0.1") -> list[str]:
    """`count` distinct loopback addresses from `first` on (127.1.0.1, 127.1.0.2, ...)."""
    return [str(ipaddress.IPv4Address(first) + i) for i in range(count)]


class HttpPool:
    """At most `size` requests in flight to one server, over reused connections."""

    rotate_after = 50  # requests per connection while spreading over source addresses
    timeout_s = 30.0

    def __init__(self, host: str, port: int, *, size: int = 64, sources: list[str] | None = None) -> None:
        self.host = host
        self.port = port
        self._sources: Iterator[str] | None = itertools.cycle(sources) if sources else None
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Conn] = []
        self._host_header = f"{host}:{port}".encode()

    async def _connect(self) -> _Conn:
        local = (next(self._sources), 0) if self._sources else None
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, local_addr=local, limit=1 << 20
            )
        except OSError as exc:
            raise HttpError(f"connect: {exc}") from exc
        return _Conn(reader, writer)

    async def _checkout(self) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable():
                return conn
            conn.close()  # closed by the server, or about to be
        return await self._connect()

    async def request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> Response:
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host_header]
        if headers:
            head.extend(f"{k}: {v}".encode() for k, v in headers.items())
        if body is not None:
            head.append(b"Content-Length: " + str(len(body)).encode())
        data = b"\r\n".join(head) + b"\r\n\r\n" + (body or b"")
        async with self._slots:
            conn = await self._checkout()
            try:
                async with asyncio.timeout(self.timeout_s):
                    start = time.perf_counter()
                    conn.writer.write(data)
                    response, keep = await _read_response(conn.reader)
                    response.elapsed = time.perf_counter() - start
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
                conn.close()
                raise HttpError(f"{method} {path}: {type(exc).__name__} {exc}") from exc
            except BaseException:
                conn.close()
                raise
            conn.uses += 1
            if keep and not (self._sources and conn.uses >= self.rotate_after):
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
            return response

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise HttpError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding"):
        raise HttpError("chunked answers are not read: the API and the ceiling send Content-Length")
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()
        return Response(status, body, headers), False
    keep = headers.get("connection", "").lower() != "close"
    return Response(status, body, headers), keep

"""The load side's HTTP client does not send a request on a connection the server closed."""

from __future__ import annotations

import asyncio

import pytest

from bench import httpclient
from bench.httpclient import HttpPool

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def _server(*, close_after_answer: bool) -> tuple[asyncio.Server, list[int]]:
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(ANSWER)
            await writer.drain()
            if close_after_answer:  # as uvicorn does to a keep-alive connection left idle
                writer.close()
                return

    return await asyncio.start_server(handle, "127.0.0.1", 0), connections


async def test_a_connection_the_server_closed_is_not_reused() -> None:
    server, connections = await _server(close_after_answer=True)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool("127.0.0.1", port, size=1)
    try:
        assert (await pool.request("GET", "/")).status == 200
        await asyncio.sleep(0.05)  # the close reaches the client
        assert (await pool.request("GET", "/")).status == 200
        assert len(connections) == 2
    finally:
        await pool.close()
        server.close()


async def test_a_connection_idle_too_long_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    server, connections = await _server(close_after_answer=False)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool("127.0.0.1", port, size=1)
    try:
        await pool.request("GET", "/")
        await pool.request("GET", "/")
        assert len(connections) == 1  # kept alive and reused
        monkeypatch.setattr(httpclient, "IDLE_REUSE_S", 0.0)
        await pool.request("GET", "/")
        assert len(connections) == 2
    finally:
        await pool.close()
        server.close()

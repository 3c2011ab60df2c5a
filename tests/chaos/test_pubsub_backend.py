"""The channels backend of the live sockets across a Redis restart, on a redis-server of
the test's own: it reconnects, subscribes its channels again, tells its listeners, and
does not bring back a channel left while Redis was away."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from core.realtime import ResilientPubSubBackend
from core.redis import create_redis
from tests.chaos.conftest import RedisServer

pytestmark = pytest.mark.chaos


async def _heard(publisher: Redis, got: asyncio.Queue[tuple[str, bytes]], channel: str, data: bytes) -> None:
    """Publish until the backend yields it (a SUBSCRIBE may still be on its way)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await publisher.publish(channel, data)
        with contextlib.suppress(TimeoutError):
            while True:
                if await asyncio.wait_for(got.get(), 0.2) == (channel, data):
                    return
    raise AssertionError(f"{data!r} on {channel} never arrived")


async def test_the_backend_resubscribes_after_a_restart_and_forgets_what_was_left_meanwhile(
    redis_servers: Callable[..., RedisServer],
) -> None:
    server = redis_servers()
    client, publisher = create_redis(server.url), create_redis(server.url)
    backend = ResilientPubSubBackend(redis=client)
    got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def read() -> None:
        async for channel, data in backend.stream_events():
            got.put_nowait((channel, data))

    reconnected = asyncio.Event()
    reader = asyncio.create_task(read())
    try:
        with backend.resubscribed.listen(reconnected.set):
            await backend.subscribe(["kept", "left"])
            await _heard(publisher, got, "kept", b"before")

            server.kill()
            await backend.unsubscribe(["left"])  # Redis away: no error, and not subscribed again
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.start)
            await asyncio.wait_for(reconnected.wait(), 10)

            assert backend.resubscribed.count == 1
            assert await publisher.pubsub_channels() == [b"kept"]
            await _heard(publisher, got, "kept", b"after")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await backend.on_shutdown()
        await client.aclose()
        await publisher.aclose()

"""Live messages over Litestar channels, fanned out through Redis pub/sub.

Any API instance can serve any WebSocket: a message published by one process (an API
instance or the arq worker) reaches the sockets of every instance.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from core.redis import batcher_for


class SerializedPubSubBackend(RedisChannelsPubSubBackend):
    """The Redis pub/sub backend with SUBSCRIBE/UNSUBSCRIBE sent one at a time.

    redis-py's asyncio PubSub loses every later message of a channel when several sockets
    subscribe at once while the reader waits for messages (seen with redis 5.3: after
    100 concurrent subscribes only the first message arrives). One lock per backend
    keeps the subscription commands in turn; reading is not locked.
    """

    def __init__(self, *, redis: Redis) -> None:
        super().__init__(redis=redis)
        self._subscription_lock: asyncio.Lock | None = None  # made inside the running loop

    def _lock(self) -> asyncio.Lock:
        if self._subscription_lock is None:
            self._subscription_lock = asyncio.Lock()
        return self._subscription_lock

    async def subscribe(self, channels: Iterable[str]) -> None:
        async with self._lock():
            await super().subscribe(channels)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        async with self._lock():
            await super().unsubscribe(channels)


def create_channels(redis: Redis) -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=SerializedPubSubBackend(redis=redis),
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=1000,
        subscriber_backlog_strategy="dropleft",
    )


class Publisher:
    """Publishes to channels from any process, with or without a running Litestar app.

    A plain `PUBLISH`, which the channels plugin's subscribers receive like any other.
    Publishes made in one loop turn go to Redis together, with the client's other batched
    calls (`core.redis.batcher_for`): the orders worker announces a whole settled batch of
    decisions in one round trip, not one each.
    """

    def __init__(self, redis: Redis) -> None:
        self._batch = batcher_for(redis)

    async def publish(self, channel: str, message: Any) -> None:
        await self._batch.command("PUBLISH", channel, msgspec.json.encode(message))


_publishers: weakref.WeakKeyDictionary[Redis, Publisher] = weakref.WeakKeyDictionary()


def publisher_for(redis: Redis) -> Publisher:
    """The one Publisher of a Redis client, made on first use, for a service that only has
    the client (a request path)."""
    publisher = _publishers.get(redis)
    if publisher is None:
        publisher = _publishers[redis] = Publisher(redis)
    return publisher

"""Live messages over Litestar channels, fanned out through Redis pub/sub.

Any API instance can serve any WebSocket: a message published by one process (an API
instance or the arq worker) reaches the sockets of every instance.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis


def create_channels(redis: Redis) -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=RedisChannelsPubSubBackend(redis=redis),
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=1000,
        subscriber_backlog_strategy="dropleft",
    )


class Publisher:
    """Publishes to channels from any process, with or without a running Litestar app."""

    def __init__(self, redis: Redis) -> None:
        self._backend = RedisChannelsPubSubBackend(redis=redis)

    async def publish(self, channel: str, message: Any) -> None:
        await self._backend.publish(msgspec.json.encode(message), [channel])

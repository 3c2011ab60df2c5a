"""Live messages over Litestar channels, fanned out through Redis pub/sub.

Any API instance can serve any WebSocket: a message published by one process (an API
instance or the arq worker) reaches the sockets of every instance. The subscription
survives a Redis restart or failover (`ResilientPubSubBackend`); after one, `resubscribed`
tells each live socket to send a fresh snapshot of what it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis import batcher_for

RECONNECT_FIRST_S = 0.1
RECONNECT_MAX_S = 2.0
log = logging.getLogger("crowdpass.realtime")


class Resubscribed:
    """Callbacks told, in this process, that pub/sub came back after a loss: messages
    published meanwhile were missed, so each live socket sends a fresh snapshot."""

    def __init__(self) -> None:
        self._callbacks: set[Callable[[], None]] = set()
        self.count = 0

    @contextlib.contextmanager
    def listen(self, callback: Callable[[], None]) -> Iterator[None]:
        self._callbacks.add(callback)
        try:
            yield
        finally:
            self._callbacks.discard(callback)

    def fire(self) -> None:
        self.count += 1
        for callback in list(self._callbacks):
            callback()


class ResilientPubSubBackend(ChannelsBackend):
    """Litestar channels over Redis pub/sub (one PubSub connection per process) that
    survives a Redis loss.

    Litestar's own Redis pub/sub backend ends its event stream at the first connection
    error: the plugin's reader task dies and every socket stays open without another
    message. Here a lost connection is retried with backoff (RECONNECT_FIRST_S doubling to
    RECONNECT_MAX_S) for as long as it takes; redis-py subscribes the same channels again
    when it reconnects (also to a new primary after a Sentinel failover), and
    `resubscribed` then tells the live sockets.

    SUBSCRIBE/UNSUBSCRIBE go one at a time: redis-py's asyncio PubSub loses every later
    message of a channel when several sockets subscribe at once while the reader waits for
    messages (seen with redis 5.3: after 100 concurrent subscribes only the first message
    arrived). Reading is not locked.
    """

    def __init__(self, *, redis: Redis) -> None:
        self._redis = redis
        self._pubsub = redis.pubsub()
        self._lock: asyncio.Lock | None = None  # made inside the running loop
        self._has_subscribed: asyncio.Event | None = None
        self._lost = False  # the connection failed and has not been re-established since
        self.resubscribed = Resubscribed()

    def _subscription_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _subscribed(self) -> asyncio.Event:
        if self._has_subscribed is None:
            self._has_subscribed = asyncio.Event()
        return self._has_subscribed

    async def on_startup(self) -> None:
        pass

    async def on_shutdown(self) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel in set(channels):
                pipe.publish(channel, data)
            await pipe.execute()

    async def subscribe(self, channels: Iterable[str]) -> None:
        async with self._subscription_lock():
            if self._lost:  # this SUBSCRIBE may be what reconnects
                self._forget_unsubscribed()
            await self._pubsub.subscribe(*channels)
        self._subscribed().set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        names = list(channels)
        async with self._subscription_lock():
            try:
                await self._pubsub.unsubscribe(*names)
            except (RedisError, OSError):  # Redis away: the reconnect must not bring them back
                self._pubsub.pending_unsubscribe_channels.update(name.encode() for name in names)
                self._lost = True
            if not self._pubsub.channels.keys() - self._pubsub.pending_unsubscribe_channels:
                self._subscribed().clear()

    def _forget_unsubscribed(self) -> None:
        """Before reconnecting: channels whose UNSUBSCRIBE was never confirmed are dropped,
        else redis-py's reconnect would subscribe them again (it forgets the pending ones)."""
        for name in list(self._pubsub.pending_unsubscribe_channels):
            self._pubsub.channels.pop(name, None)
        self._pubsub.pending_unsubscribe_channels.clear()

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        raise NotImplementedError("pub/sub keeps no history")

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        delay = RECONNECT_FIRST_S
        while True:
            await self._subscribed().wait()
            try:
                if self._lost:
                    # A command on the PubSub connects again and, in redis-py's connect
                    # callback, subscribes every channel it had before the loss.
                    async with self._subscription_lock():
                        self._forget_unsubscribed()
                        await self._pubsub.ping()
                        self._lost, delay = False, RECONNECT_FIRST_S
                    log.warning("pub/sub reconnected; live sockets send a fresh snapshot")
                    self.resubscribed.fire()
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (RedisError, OSError) as exc:
                if not self._lost:
                    log.warning("pub/sub lost (%s); reconnecting", exc)
                self._lost = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            if message is None or message["type"] != "message":
                continue
            channel = message["channel"].decode()
            # An unsubscribe is answered in turn: a message may still come for a channel
            # this process has just left.
            if channel.encode() in self._pubsub.channels.keys() - self._pubsub.pending_unsubscribe_channels:
                yield channel, message["data"]


_resubscribed: weakref.WeakKeyDictionary[ChannelsPlugin, Resubscribed] = weakref.WeakKeyDictionary()


def create_channels(redis: Redis) -> ChannelsPlugin:
    backend = ResilientPubSubBackend(redis=redis)
    plugin = ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=1000,
        subscriber_backlog_strategy="dropleft",
    )
    _resubscribed[plugin] = backend.resubscribed
    return plugin


def resubscribed(channels: ChannelsPlugin) -> Resubscribed:
    """The reconnect signal of a plugin made by `create_channels` (a stand-alone one for
    any other plugin: it never fires)."""
    found = _resubscribed.get(channels)
    if found is None:
        found = _resubscribed[channels] = Resubscribed()
    return found


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

"""The long-lived clients one process needs, opened and closed together.

The API's lifespan and the arq worker's startup both build a `Resources`, so a service
function sees the same things wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from arq.connections import ArqRedis, RedisSettings, create_pool

from core.config import Settings
from core.db import Pool
from core.db import create_pool as create_pg_pool
from core.payments import CircuitBreaker, provider_client
from core.realtime import Publisher, publisher_for
from core.redis import (
    COMMAND_TIMEOUT_S,
    RedisBatcher,
    batcher_for,
    sentinel_addresses,
    sentinel_primary,
)


@dataclass(slots=True)
class Resources:
    settings: Settings
    pool: Pool
    redis: ArqRedis  # a redis.asyncio.Redis that can also enqueue arq jobs
    publisher: Publisher
    http: httpx.AsyncClient  # to the payments provider
    redis_batch: RedisBatcher  # script calls and commands of hot paths, batched per loop turn
    breaker: CircuitBreaker  # in front of the payments provider, this process's

    async def close(self) -> None:
        await self.http.aclose()
        await self.pool.close()
        await self.redis.aclose()


def redis_settings(
    url: str, *, max_connections: int = 500, sentinels: str = "", sentinel_master: str = "mymaster"
) -> RedisSettings:
    """arq's settings for `url`, or for the primary the sentinels name (see
    `core.redis.create_redis`)."""
    settings = RedisSettings.from_dsn(url)
    settings.max_connections = max_connections
    if sentinels:
        settings.host = sentinel_addresses(sentinels)
        settings.sentinel = True
        settings.sentinel_master = sentinel_master
    return settings


def redis_settings_of(settings: Settings) -> RedisSettings:
    return redis_settings(
        settings.redis_url, sentinels=settings.redis_sentinels, sentinel_master=settings.redis_sentinel_master
    )


async def create_arq_redis(settings: Settings) -> ArqRedis:
    """arq's client of the configured Redis. Behind sentinels it is made here rather than by
    `arq.create_pool`, which gives the primary's connections no timeouts: a primary gone
    with its host would hang every request on it (core/redis.py, CONNECT_TIMEOUT_S)."""
    if not settings.redis_sentinels:
        return await create_pool(redis_settings_of(settings))
    return sentinel_primary(
        settings.redis_url,
        settings.redis_sentinels,
        settings.redis_sentinel_master,
        max_connections=500,
        redis_class=ArqRedis,
        socket_timeout=COMMAND_TIMEOUT_S,
    )


async def open_resources(
    settings: Settings,
    *,
    pool_max: int | None = None,
    http: httpx.AsyncClient | None = None,
    worker: bool = False,
) -> Resources:
    """The clients of one process. The API's connections default to the read class of
    timeouts (READ_LOCK_TIMEOUT_MS, API_STATEMENT_TIMEOUT_MS); a worker's (`worker=True`) to
    the jobs' (LOCK_TIMEOUT_MS, WORKER_STATEMENT_TIMEOUT_MS). Writes set their own."""
    redis = await create_arq_redis(settings)
    pool = await create_pg_pool(
        settings.database_url,
        max_size=pool_max or settings.db_pool_max,
        lock_timeout_ms=settings.lock_timeout_ms if worker else settings.read_lock_timeout_ms,
        statement_timeout_ms=(
            settings.worker_statement_timeout_ms if worker else settings.api_statement_timeout_ms
        ),
    )
    if http is None:
        http = provider_client(
            base_url=settings.payments_url,
            timeout_s=settings.payments_timeout_s,
            max_connections=settings.payments_max_connections,
        )
    return Resources(
        settings=settings,
        pool=pool,
        redis=redis,
        publisher=publisher_for(redis),
        http=http,
        redis_batch=batcher_for(redis),
        breaker=CircuitBreaker(
            failures=settings.payments_breaker_failures, cooldown_s=settings.payments_breaker_cooldown_s
        ),
    )

"""REDIS_SENTINELS: the clients of every process ask the sentinels for the primary."""

from __future__ import annotations

import pytest
from redis.asyncio.sentinel import SentinelConnectionPool

from core.config import Settings
from core.redis import create_redis, sentinel_addresses
from core.resources import redis_settings, redis_settings_of


def test_sentinel_addresses_are_host_port_pairs() -> None:
    assert sentinel_addresses("s1:26379, 10.0.0.2:26380") == [("s1", 26379), ("10.0.0.2", 26380)]
    for bad in ("s1", "s1:port", ":26379", "s1:26379,"):
        with pytest.raises(ValueError, match="REDIS_SENTINELS"):
            sentinel_addresses(bad)


def test_without_sentinels_the_url_names_the_server() -> None:
    arq = redis_settings("redis://cache:6380/3")
    assert (arq.host, arq.port, arq.database, arq.sentinel) == ("cache", 6380, 3, False)


def test_with_sentinels_arq_asks_them_for_the_named_primary() -> None:
    settings = Settings(
        redis_url="redis://:secret@ignored:6379/2",
        redis_sentinels="s1:26379,s2:26379",
        redis_sentinel_master="main",
    )
    arq = redis_settings_of(settings)
    assert arq.sentinel is True and arq.sentinel_master == "main"
    assert arq.host == [("s1", 26379), ("s2", 26379)]
    assert (arq.database, arq.password) == (2, "secret")


async def test_with_sentinels_the_client_is_the_primary_of_the_sentinels() -> None:
    client = create_redis("redis://:secret@ignored:6379/2", sentinels="s1:26379", sentinel_master="main")
    try:
        pool = client.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        assert pool.service_name == "main" and pool.is_master
        assert pool.connection_kwargs["db"] == 2 and pool.connection_kwargs["password"] == "secret"
    finally:
        await client.aclose()

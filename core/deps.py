"""Litestar dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from arq.connections import ArqRedis
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.types import Scope

from core.auth import Principal, provide_principal
from core.db import Connection
from core.errors import Busy
from core.resources import Resources


def provide_resources(state: State) -> Resources:
    res: Resources = state.resources
    return res


READS = frozenset({"GET", "HEAD"})


async def provide_conn(state: State, scope: Scope) -> AsyncGenerator[Connection, None]:
    """A pooled connection, waited for at most POOL_ACQUIRE_TIMEOUT_S by a read (GET, HEAD)
    and WRITE_POOL_ACQUIRE_TIMEOUT_S by a write (a burst of purchases queues for a
    connection rather than fail), then 503 `busy`."""
    res: Resources = state.resources
    settings = res.settings
    read = scope.get("method", "GET") in READS
    timeout = settings.pool_acquire_timeout_s if read else settings.write_pool_acquire_timeout_s
    try:
        conn = await res.pool.acquire(timeout=timeout)
    except TimeoutError:
        raise Busy("Every database connection is in use; try again shortly.") from None
    try:
        yield conn
    finally:
        await res.pool.release(conn, timeout=res.settings.api_statement_timeout_ms / 1000)


def provide_redis(state: State) -> ArqRedis:
    redis: ArqRedis = state.resources.redis
    return redis


dependencies = {
    "res": Provide(provide_resources, sync_to_thread=False),
    "conn": Provide(provide_conn),
    "redis": Provide(provide_redis, sync_to_thread=False),
    "principal": Provide(provide_principal),
}


# Annotations for handler parameters: `async def handler(conn: ConnDep, principal: PrincipalDep)`.
ResDep = NamedDependency[Resources]
ConnDep = NamedDependency[Connection]
RedisDep = NamedDependency[ArqRedis]
PrincipalDep = NamedDependency[Principal]

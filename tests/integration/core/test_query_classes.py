"""PostgreSQL query classes: a read never waits long behind a lock (503 `busy` with
Retry-After, or the last known stock), a request never waits long for a pooled
connection, and each kind of process gets its class's timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from core.config import Settings
from core.resources import Resources, open_resources
from reservations import keys
from reservations.seed import client_id, event_id
from tests.conftest import asgi_client

ROCK = event_id(1)


@contextlib.asynccontextmanager
async def tickets_locked(settings: Settings) -> AsyncIterator[None]:
    """An ACCESS EXCLUSIVE lock on `tickets`, held by another session until the block ends."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def timed_get(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    # Without the read class's lock timeout this would wait for the lock (the test's 10 s).
    r = await asyncio.wait_for(client.get(path), timeout=10)
    return r, time.perf_counter() - start


async def test_api_and_worker_connections_default_to_their_class(res: Resources, settings: Settings) -> None:
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SHOW lock_timeout") == f"{settings.read_lock_timeout_ms}ms"
        api_statement = f"{settings.api_statement_timeout_ms // 1000}s"
        assert await conn.fetchval("SHOW statement_timeout") == api_statement
    worker = await open_resources(settings, pool_max=1, worker=True)
    try:
        async with worker.pool.acquire() as conn:
            assert await conn.fetchval("SHOW lock_timeout") == f"{settings.lock_timeout_ms // 1000}s"
            assert (
                await conn.fetchval("SHOW statement_timeout")
                == f"{settings.worker_statement_timeout_ms // 1000}s"
            )
    finally:
        await worker.close()


async def test_read_behind_a_table_lock_answers_503_busy_within_its_lock_timeout(
    seeded: Resources, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with tickets_locked(settings):
        r, took = await timed_get(client, f"/clientes/{client_id(1)}")
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "busy"
    assert r.headers["retry-after"] == "1"
    assert took < settings.read_lock_timeout_ms / 1000 + 2.0
    assert (await client.get(f"/clientes/{client_id(1)}")).status_code == 200


async def test_event_read_behind_a_lock_answers_the_last_known_stock(
    seeded: Resources, client: httpx.AsyncClient, settings: Settings
) -> None:
    first = await client.get(f"/eventos/{ROCK}")
    assert first.status_code == 200
    await seeded.redis.delete(keys.stock(ROCK))  # the short cache gone: PostgreSQL is asked
    async with tickets_locked(settings):
        r, _ = await timed_get(client, f"/eventos/{ROCK}")
    assert r.status_code == 200, r.text
    assert r.json()["ingressos_disponiveis"] == first.json()["ingressos_disponiveis"]


async def test_event_read_behind_a_lock_with_no_stock_known_is_503_busy(
    seeded: Resources, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with tickets_locked(settings):
        r, _ = await timed_get(client, f"/eventos/{ROCK}")
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "busy"


async def test_no_free_connection_answers_503_busy_without_waiting_long(
    seeded: Resources, settings: Settings
) -> None:
    from app import create_app

    small = msgspec.structs.replace(settings, pool_acquire_timeout_s=0.2)
    own = await open_resources(small, pool_max=1)
    held: Any = await own.pool.acquire()  # the only connection, busy elsewhere
    try:
        async with asgi_client(create_app(small, resources=own)) as c:
            r, _took = await timed_get(c, f"/clientes/{client_id(1)}")
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "busy"
            assert r.headers["retry-after"] == "1"
            await own.pool.release(held)
            held = None
            assert (await c.get(f"/clientes/{client_id(1)}")).status_code == 200
    finally:
        if held is not None:
            await own.pool.release(held)
        await own.close()


async def test_a_write_sets_its_own_statement_timeout(res: Resources) -> None:
    statement_ms = 300
    from reservations.inventory.service import set_lock_timeout

    async with res.pool.acquire() as conn, conn.transaction():
        await set_lock_timeout(conn, 1234, statement_ms=statement_ms)
        assert await conn.fetchval("SHOW lock_timeout") == "1234ms"
        assert await conn.fetchval("SHOW statement_timeout") == f"{statement_ms}ms"
        with pytest.raises(asyncpg.QueryCanceledError):
            await conn.execute("SELECT pg_sleep(2)")

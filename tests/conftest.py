"""Fixtures on real servers. Every test that asks for `res` starts from empty tables and
an empty Redis database; `seeded` adds the challenge and demo data."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import warnings
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from tests.ports import any_free_port
from tests.servers import ROOT, server_urls

DB_URL, REDIS_URL = server_urls()
os.environ["DATABASE_URL"] = DB_URL
os.environ["REDIS_URL"] = REDIS_URL
os.environ.setdefault("LOG_JSON", "0")
os.environ["CROWDPASS_ENV"] = "dev"
# Tests and the processes they start send thousands of requests from 127.0.0.1: the
# limits are raised as for a load test; tests/security/ lowers the ones it tries.
from core.limits import LOAD_TEST_LIMITS  # noqa: E402

for _name, _value in LOAD_TEST_LIMITS.items():
    os.environ.setdefault(_name, _value)

from core.config import Settings, get_settings  # noqa: E402
from core.credentials import use_dev_secrets  # noqa: E402

use_dev_secrets(ROOT / ".data")  # this install's secrets, unless the environment gives them
from core.db import migrate  # noqa: E402
from core.payments import CircuitBreaker  # noqa: E402
from core.resources import Resources, open_resources  # noqa: E402
from waitingroom.plug import plug_into_reservations  # noqa: E402

get_settings.cache_clear()
# The test process is composed as the API and the workers are: the waiting room plugged in.
plug_into_reservations()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
async def _schema(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def _resources(settings: Settings, _schema: None) -> AsyncIterator[Resources]:
    from payments_stub.app import create_app as create_payments_app

    payments = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_payments_app()), base_url="http://payments"
    )
    res = await open_resources(settings, pool_max=40, http=payments)
    yield res
    await res.close()


_RESET_SEQUENCES = (
    # RESTART IDENTITY, but only for the sequences a test has drawn from (setval writes WAL).
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
    " FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
)


async def _reset_sql(conn: asyncpg.Connection) -> str:
    """One round trip that empties every table but `schema_migrations` and restarts the
    sequences: a DELETE per table, each before the tables it references.

    TRUNCATE costs ~100 ms a call (new files for every table and index, and an fsync), which
    was half the suite; a DELETE of a few rows, or of none, costs well under a millisecond.
    """
    tables = {
        r["relname"]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'"
        )
    }
    refs: dict[str, set[str]] = {t: set() for t in tables}  # table -> the tables it references
    for r in await conn.fetch(
        "SELECT ch.relname AS child, pa.relname AS parent FROM pg_constraint f"
        " JOIN pg_class ch ON ch.oid = f.conrelid JOIN pg_class pa ON pa.oid = f.confrelid"
        " WHERE f.contype = 'f' AND f.connamespace = 'public'::regnamespace"
    ):
        child, parent = r["child"], r["parent"]
        if child in tables and parent in tables and child != parent:
            refs[child].add(parent)
    order: list[str] = []
    left = set(tables)
    while left:
        # A table goes once no table still to be emptied references it.
        free = sorted(t for t in left if not any(t in refs[o] for o in left if o != t))
        if not free:  # a cycle of foreign keys: DELETE cannot order it, TRUNCATE can
            names = ", ".join(f'"{t}"' for t in sorted(tables))
            return f"TRUNCATE {names} RESTART IDENTITY CASCADE"
        order.extend(free)
        left.difference_update(free)
    return "".join(f'DELETE FROM "{t}"; ' for t in order) + _RESET_SEQUENCES  # noqa: S608


@pytest.fixture(scope="session")
async def _reset_statement(_resources: Resources) -> str:
    async with _resources.pool.acquire() as conn:
        return await _reset_sql(conn)


# Sessions of other processes that hold a transaction open (a process of an earlier test
# still stopping, a killed worker's backend not yet gone). Between tests every connection of
# this process is idle, so none of them is ever ended here.
_END_STRAYS = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
"""


async def _reset(res: Resources, statement: str) -> None:
    for attempt in range(3):
        try:
            async with res.pool.acquire() as conn, conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '5s'")
                await conn.execute("SET LOCAL statement_timeout = 0")
                # Every table is emptied: no foreign key needs checking row by row (after a
                # test of 20,000 orders those checks alone took more than 30 s).
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(statement, timeout=120)  # one simple query: every table in one round trip
            break
        except asyncpg.LockNotAvailableError:
            if attempt == 2:
                raise
            await res.pool.execute(_END_STRAYS)
    await res.redis.flushdb()


@pytest.fixture
async def res(_resources: Resources, _reset_statement: str) -> AsyncIterator[Resources]:
    """The shared clients, on a clean database and Redis. After the test, every pooled
    connection must be back in the pool: a leak fails the test that caused it."""
    await _reset(_resources, _reset_statement)
    settings = _resources.settings  # a fresh payment circuit: a test's outage stays its own
    _resources.breaker = CircuitBreaker(
        failures=settings.payments_breaker_failures, cooldown_s=settings.payments_breaker_cooldown_s
    )
    yield _resources
    pool = _resources.pool
    for _ in range(100):
        if pool.get_idle_size() == pool.get_size():
            return
        await asyncio.sleep(0.02)
    in_use = pool.get_size() - pool.get_idle_size()
    raise AssertionError(f"{in_use} database connection(s) still acquired after the test")


@pytest.fixture
async def seeded(res: Resources) -> Resources:
    from reservations.seed import seed

    async with res.pool.acquire() as conn:
        await seed(conn)
    return res


@pytest.fixture(scope="session")
def _app(_resources: Resources) -> Any:
    """The application, built once: building it (routes, DTOs, the OpenAPI schema) costs
    ~0.1 s, paid by hundreds of tests. Each test still runs it through its own lifespan."""
    from app import create_app

    return create_app(resources=_resources)


@contextlib.asynccontextmanager
async def asgi_client(app: Any, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """`app` in this test's event loop, through its own lifespan, over ASGI."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # Enter and leave the lifespan in one task: its task groups demand it.
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as c:
        yield c
    stop.set()
    await task


@pytest.fixture
async def client(res: Resources, _app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API in this test's event loop, through its own lifespan, over ASGI."""
    async with asgi_client(_app) as c:
        yield c


@pytest.fixture
async def live_server(res: Resources) -> AsyncIterator[str]:
    """The API served by uvicorn on a free port in this event loop (for WebSockets).

    Yields the base URL, e.g. http://127.0.0.1:43123.
    """
    from app import create_app

    config = uvicorn.Config(
        create_app(resources=res), host="127.0.0.1", port=any_free_port(), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    yield f"http://127.0.0.1:{config.port}"
    server.should_exit = True
    await task


async def _run_worker(res: Resources, settings_cls: Any) -> AsyncIterator[Any]:
    from arq.worker import Worker

    from core.resources import redis_settings

    worker = Worker(
        functions=settings_cls.functions,
        # Fresh schedules: arq keeps `next_run` on the CronJob objects, which live at module
        # level; reused by a later test's worker they would replay every missed slot at once.
        cron_jobs=[dataclasses.replace(c, next_run=None) for c in getattr(settings_cls, "cron_jobs", [])],
        queue_name=getattr(settings_cls, "queue_name", "arq:queue"),
        redis_settings=redis_settings(res.settings.redis_url),
        ctx={"res": res},
        handle_signals=False,
        poll_delay=0.05,
        max_jobs=getattr(settings_cls, "max_jobs", 10),
        keep_result=getattr(settings_cls, "keep_result", 3600),
    )
    task = asyncio.create_task(worker.main())
    yield worker
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # Let jobs in flight (a per-second cron may be running) finish first: close() cancels
    # unfinished ones and then re-raises their CancelledError into the test's teardown.
    in_flight = [t for t in worker.tasks.values() if not t.done()]
    if in_flight:
        await asyncio.wait(in_flight, timeout=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # arq 0.28 calls redis' deprecated close()
        await worker.close()


@pytest.fixture
async def worker(res: Resources) -> AsyncIterator[Any]:
    """An arq worker on the default queue (expiry, queue advance, crons), in this event loop."""
    from jobs.worker import WorkerSettings

    async for w in _run_worker(res, WorkerSettings):
        yield w


@pytest.fixture
async def orders_worker(res: Resources) -> AsyncIterator[Any]:
    """An orders worker (the consumer of the `ticket_orders` stream), in this event loop."""
    from jobs.orders_worker import OrdersConsumer

    consumer = OrdersConsumer(res, block_ms=100, keep_every_s=0.2)
    task = asyncio.create_task(consumer.run())
    yield consumer
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)

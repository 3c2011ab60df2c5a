"""Real processes for the order tests: the payments stub and orders workers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from core.resources import Resources
from tests.factories import stock_counts
from tests.ports import first_free_port

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(18400, 18500)


def _free_port() -> int:
    port = first_free_port(PORTS)
    if port is None:
        raise RuntimeError("no free port in 18400-18499")
    return port


@contextlib.contextmanager
def payments_stub(log_path: Path, *, latency_ms: int = 20) -> Iterator[str]:
    """The payments stub as a process; yields its base URL."""
    port = _free_port()
    env = os.environ | {"PAYMENTS_LATENCY_MS": str(latency_ms)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "payments_stub.app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the payments stub did not start")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


async def flush_redis(url: str) -> None:
    """Empty the Redis database of `url` (a system's processes start from nothing there)."""
    from core.redis import create_redis

    redis = create_redis(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


class ChildProcess:
    """A process a test starts itself (`self.proc`): `kill()` is SIGKILL, `stop()` asks it to
    end and kills it after 10 s."""

    proc: subprocess.Popen[bytes] | None = None

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


class WorkerProcess(ChildProcess):
    """An orders worker, `python -m jobs orders`, as a process of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log

    @property
    def consumer(self) -> str:
        """Its name in the stream's consumer group."""
        assert self.proc is not None
        return f"{socket.gethostname()}:{self.proc.pid}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobs", "orders"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )


async def assert_sold_and_charged_once(
    res: Resources, payments_url: str, *, event_id: uuid.UUID, tickets: int, rows: Mapping[uuid.UUID, Any]
) -> None:
    """Every ticket of the event sold once, to a confirmed order (`rows`: order id -> row
    with status and payment_id), each of those charged once and nothing else charged."""
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        per_order = await conn.fetch("SELECT order_id, count(*) AS n FROM purchases GROUP BY order_id")
        tickets_sold = await conn.fetchval("SELECT count(DISTINCT ticket_id) FROM purchases")
        hold_statuses = dict(await conn.fetch("SELECT status, count(*) FROM holds GROUP BY status"))
    assert counts == {"AVAILABLE": 0, "IN_PROGRESS": 0, "BOOKED": tickets, "capacity": tickets}
    assert tickets_sold == tickets and all(r["n"] == 1 for r in per_order) and len(per_order) == tickets
    assert hold_statuses == {"confirmed": tickets}

    async with httpx.AsyncClient(base_url=payments_url) as stub:
        charges = (await stub.get("/v1/charges")).json()["charges"]
    per_description = Counter(c["description"] for c in charges)
    assert max(per_description.values()) == 1  # at most one charge per order
    confirmed = {i for i, r in rows.items() if r["status"] == "confirmed"}
    assert set(per_description) == {f"order {i}" for i in confirmed}
    assert {c["id"] for c in charges} == {rows[i]["payment_id"] for i in confirmed}

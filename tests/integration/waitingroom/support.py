"""Helpers for the waiting-room tests: customers with tokens, ticks, holds written in SQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from core.auth import issue_customer_token
from core.db import Connection
from core.resources import Resources
from reservations.inventory.stock import stock_changed
from waitingroom import keys
from waitingroom.service import advance_queue, join_queue, require_admission
from waitingroom.service.admission import AdvanceResult
from waitingroom.service.tokens import encode_admission


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def admin(res: Resources) -> dict[str, str]:
    return {"Authorization": f"Bearer {res.settings.admin_token}"}


async def tick(
    res: Resources, event_id: uuid.UUID, *, ttl_s: float | None = None, transit_ms: int | None = None
) -> AdvanceResult:
    async with res.pool.acquire() as conn:
        return await advance_queue(
            conn,
            res.redis,
            event_id=event_id,
            publisher=res.publisher,
            admission_ttl_s=ttl_s,
            transit_ms=transit_ms,
        )


async def join(res: Resources, event_id: uuid.UUID, customer_id: uuid.UUID, ip: str = "192.0.2.1") -> Any:
    async with res.pool.acquire() as conn:
        return await join_queue(conn, res.redis, event_id=event_id, customer_id=customer_id, client_ip=ip)


async def admit_use(res: Resources, event_id: uuid.UUID, customer_id: uuid.UUID, token: str | None) -> None:
    async with res.pool.acquire() as conn:
        await require_admission(conn, res.redis, event_id=event_id, customer_id=customer_id, token=token)


def token_of(event_id: uuid.UUID, admission: Any) -> str:
    return encode_admission(
        customer_id=admission.customer_id,
        event_id=event_id,
        jti=admission.jti,
        expires_ms=admission.expires_ms,
    )


async def outstanding(res: Resources, event_id: uuid.UUID) -> int:
    """Admissions issued and not used whose window has not passed (Redis's clock)."""
    seconds, micros = await res.redis.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    return int(await res.redis.zcount(keys.admitted(event_id), f"({now_ms}", "+inf"))


async def hold_in_sql(conn: Connection, event_id: uuid.UUID, customer_id: uuid.UUID) -> uuid.UUID:
    """An active one-ticket hold, as the hold service would write it."""
    async with conn.transaction():
        hold_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO holds (event_id, customer_id, quantity, total_cents, expires_at)"
            " VALUES ($1, $2, 1, 0, now() + interval '5 minutes') RETURNING id",
            event_id,
            customer_id,
        )
        ticket = await conn.fetchval(
            "SELECT id FROM tickets WHERE event_id = $1 AND status = 'AVAILABLE'"
            " LIMIT 1 FOR UPDATE SKIP LOCKED",
            event_id,
        )
        assert ticket is not None, "no ticket left to hold"
        await conn.execute(
            "UPDATE tickets SET status = 'IN_PROGRESS', hold_id = $2, customer_id = $3 WHERE id = $1",
            ticket,
            hold_id,
            customer_id,
        )
    return hold_id


async def end_hold(conn: Connection, hold_id: uuid.UUID, *, confirmed: bool) -> None:
    """Confirm (ticket booked) or expire (ticket back on sale) a hold written by hold_in_sql."""
    async with conn.transaction():
        if confirmed:
            await conn.execute(
                "UPDATE tickets SET status = 'BOOKED', hold_id = NULL WHERE hold_id = $1", hold_id
            )
        else:
            await conn.execute(
                "UPDATE tickets SET status = 'AVAILABLE', hold_id = NULL, customer_id = NULL"
                " WHERE hold_id = $1",
                hold_id,
            )
        await conn.execute(
            "UPDATE holds SET status = $2, ended_at = now() WHERE id = $1",
            hold_id,
            "confirmed" if confirmed else "expired",
        )


async def sell_out(res: Resources, event_id: uuid.UUID) -> None:
    """Book every ticket left, then fire the stock hook as a real sale would."""
    await res.pool.execute(
        "UPDATE tickets SET status = 'BOOKED', hold_id = NULL,"
        " customer_id = coalesce(customer_id, (SELECT id FROM customers LIMIT 1))"
        " WHERE event_id = $1 AND status <> 'BOOKED'",
        event_id,
    )
    await stock_changed(res.redis, event_id=event_id)


def in_seconds(s: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=s)


def body(r: Any) -> Any:
    return r.json()


ROOT = Path(__file__).resolve().parents[3]
PORTS = range(18310, 18340)


def _free_ports(n: int) -> list[int]:
    found = []
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == n:
            return found
    raise RuntimeError("no free port in 18310-18339")


@contextlib.asynccontextmanager
async def api_processes(res: Resources, n: int) -> AsyncIterator[list[str]]:
    """`n` API servers (uvicorn, the app factory) as separate processes on this test's
    database and Redis. Yields their base URLs once each answers /health."""
    env = {
        **os.environ,
        "DATABASE_URL": res.settings.database_url,
        "REDIS_URL": res.settings.redis_url,
        "ADMIN_TOKEN": res.settings.admin_token,
        "JWT_SECRET": res.settings.jwt_secret,
        "LOG_JSON": "0",
    }
    ports = _free_ports(n)
    with tempfile.TemporaryFile() as log:
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "uvicorn", "app:create_app", "--factory", "--host", "127.0.0.1"),
                *("--port", str(port), "--log-level", "warning"),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            for port in ports
        ]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                for url, proc in zip(urls, procs, strict=True):
                    for _ in range(300):
                        if proc.returncode is not None:
                            log.seek(0)
                            raise RuntimeError(log.read().decode(errors="replace"))
                        with contextlib.suppress(httpx.HTTPError):
                            if (await http.get(f"{url}/health")).status_code == 200:
                                break
                        await asyncio.sleep(0.05)
                    else:
                        raise RuntimeError(f"{url} did not start")
            yield urls
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            for proc in procs:
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

"""Idempotency keys kept in Redis: same key + same body → same answer, one effect.

A key moves through two states: `pending` (the first request is running) and `done`
(its status and body are stored). The request fingerprint is a SHA-256 of the body, so a
key reused with another body is recognised.
"""

from __future__ import annotations

import asyncio
import hashlib

import msgspec
from redis.asyncio import Redis

from core.errors import AppError

TTL_S = 24 * 3600
PENDING_TTL_S = 60


class KeyReused(AppError):
    status_code = 422
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."


class InFlight(AppError):
    status_code = 409
    code = "request_in_progress"
    default_detail = "A request with this Idempotency-Key is still running; retry shortly."


class Stored(msgspec.Struct, frozen=True):
    fingerprint: str
    state: str  # "pending" | "done"
    status: int = 0
    body: bytes = b""


def fingerprint(scope: str, body: bytes) -> str:
    return hashlib.sha256(scope.encode() + b"\0" + body).hexdigest()


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Stored)


async def begin(redis: Redis, key: str, fp: str, *, wait_s: float = 5.0) -> Stored | None:
    """Claim `key` for a new request, or return the stored answer of an earlier one.

    Returns None when the caller owns the key and must run the request, then `finish` it.
    A duplicate arriving while the first runs waits up to `wait_s` for its answer.
    """
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        claimed = await redis.set(key, _enc.encode(Stored(fp, "pending")), nx=True, ex=PENDING_TTL_S)
        if claimed:
            return None
        raw = await redis.get(key)
        if raw is None:
            continue
        stored = _dec.decode(raw)
        if stored.fingerprint != fp:
            raise KeyReused()
        if stored.state == "done":
            return stored
        if asyncio.get_running_loop().time() >= deadline:
            raise InFlight()
        await asyncio.sleep(0.05)


async def finish(redis: Redis, key: str, fp: str, *, status: int, body: bytes) -> None:
    await redis.set(key, _enc.encode(Stored(fp, "done", status, body)), ex=TTL_S)


async def abandon(redis: Redis, key: str) -> None:
    """Release a pending key after an unexpected failure so that a retry can run."""
    await redis.delete(key)

"""Idempotency keys kept in Redis: same key + same body → same answer, one effect.

A key moves through two states: `pending` (the first request is running) and `done`
(its status and body are stored). The request fingerprint is a SHA-256 of the body, so a
key reused with another body is recognised.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from redis.asyncio import Redis

from core.errors import AppError, BadRequest, ErrorBody

T = TypeVar("T")

TTL_S = 24 * 3600
MAX_KEY_LENGTH = 255
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


def check_key(value: str | None) -> str:
    """The `Idempotency-Key` header's value, or a 400 naming it (missing, blank, or longer
    than MAX_KEY_LENGTH)."""
    if value is None or not value.strip():
        raise BadRequest("The Idempotency-Key header is required.", field="Idempotency-Key")
    if len(value) > MAX_KEY_LENGTH:
        raise BadRequest(
            f"The Idempotency-Key header is at most {MAX_KEY_LENGTH} characters.", field="Idempotency-Key"
        )
    return value


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


class StoredRefusal(AppError):
    """The refusal the first request under this key got, raised again as it was."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(body.detail, field=body.field)
        self.status_code = status  # type: ignore[misc]
        self.code = body.error  # type: ignore[misc]


_refusal_enc = msgspec.json.Encoder()
_refusal_dec = msgspec.json.Decoder(ErrorBody)


async def run_once(
    redis: Redis,
    key: str,
    fp: str,
    run: Callable[[], Awaitable[T]],
    *,
    status: int,
    encode: Callable[[T], bytes],
    decode: Callable[[bytes], T],
) -> T:
    """`run()` once per key: a replay gets the first answer again (its value, decoded, or
    its refusal raised as `StoredRefusal`). Refusals below 500 are stored; a 5xx or an
    unexpected failure leaves the key free, so the client may retry with it."""
    stored = await begin(redis, key, fp)
    if stored is not None:
        if stored.status == status:
            return decode(stored.body)
        raise StoredRefusal(stored.status, _refusal_dec.decode(stored.body))
    try:
        result = await run()
    except AppError as exc:
        if exc.status_code >= 500:
            await asyncio.shield(abandon(redis, key))
            raise
        refusal = _refusal_enc.encode(ErrorBody(error=exc.code, detail=exc.detail, field=exc.field))
        await finish(redis, key, fp, status=exc.status_code, body=refusal)
        raise
    except BaseException:
        await asyncio.shield(abandon(redis, key))
        raise
    await finish(redis, key, fp, status=status, body=encode(result))
    return result

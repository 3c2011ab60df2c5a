"""Rate limits shared by every API instance: fixed-window counters and growing blocks in
Redis, each check one atomic script (`lua/hit_rate_limit.lua`, `lua/record_failure.lua`).

A check names its counters as `Limit`s (key, requests per window, window); a limit of 0
is off. All counters of one check are read before any is counted, and a refused request
counts nowhere. A refusal is `RateLimited`: 429 `rate_limited` with `Retry-After`.
Every limit is a setting (docs/security.md, "Rate limits"). Litestar's rate-limit
middleware was not enough: it reads then writes its store (two round trips, not atomic)
and keys a request before its body is read, so it cannot count per account.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from redis.asyncio import Redis

from core.addresses import client_address, limit_subject
from core.config import Settings, get_settings
from core.errors import AppError
from core.openapi import answers
from core.redis import RedisBatcher, Scripts

S = Scripts(Path(__file__).resolve().parent / "lua")

_PREFIX = "cp:rl"
# Failures in a row are forgotten this long after the last one.
FAILURE_MEMORY_MS = 24 * 3600 * 1000


# The environment a load test (bench/) or the test suite sets: they send thousands of
# requests from one address, so the per-address and per-customer limits are raised (still
# counted, so their cost is measured). The waiting-room join limits keep their defaults.
LOAD_TEST_LIMITS = {
    "LOGIN_LIMIT_PER_ADDRESS": "1000000",
    "LOGIN_LIMIT_PER_ACCOUNT": "1000000",
    "SIGNUP_LIMIT_PER_ADDRESS": "1000000",
    "ORDER_LIMIT_PER_CUSTOMER": "1000000",
    "ORDER_LIMIT_PER_ADDRESS": "1000000",
    "EVENT_LIMIT_PER_ADDRESS": "1000000",
    "WAITLIST_LIMIT_PER_ADDRESS": "1000000",
}


def key(name: str, subject: str) -> str:
    """The counter of one limit (`login-address`) and one subject (an address, an id)."""
    return f"{_PREFIX}:{name}:{subject}"


def digest(text: str) -> str:
    """A subject that should not sit in Redis in clear (an email): 16 bytes of its hash."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class Limit(msgspec.Struct, frozen=True):
    key: str
    limit: int  # requests per window; 0 or less: no limit
    window_s: float  # 0: `key` is a block marker, refused while it exists

    @classmethod
    def blocked_while(cls, key: str) -> Limit:
        return cls(key, 1, 0)


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """Growing blocks after failures in a row: none before `after`, then `first_s`,
    doubling with each further failure up to `longest_s`. A success clears both keys."""

    counter: str
    block: str
    after: int
    first_s: float
    longest_s: float


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    default_detail = "Too many requests; wait and try again."

    def __init__(self, retry_after_ms: int, detail: str | None = None) -> None:
        seconds = max(1, math.ceil(retry_after_ms / 1000))
        super().__init__(
            (detail or "Too many requests") + f"; try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
        self.retry_after_s = seconds


def _script_args(limits: Sequence[Limit]) -> tuple[list[str], list[int]]:
    keys: list[str] = []
    args: list[int] = []
    for limit in limits:
        if limit.limit > 0:
            keys.append(limit.key)
            args += [limit.limit, round(limit.window_s * 1000)]
    return keys, args


async def hit_limits(redis: Redis | RedisBatcher, limits: Sequence[Limit]) -> int:
    """Count one request against `limits`: 0 when allowed, else the ms to wait. Through a
    `RedisBatcher` the check shares its loop turn's pipeline (the order hot path)."""
    keys, args = _script_args(limits)
    if not keys:
        return 0
    if isinstance(redis, RedisBatcher):
        wait = await redis.call(S.hit_rate_limit, keys, args)
    else:
        wait = await S.hit_rate_limit(redis, keys, args)
    return int(wait)


async def check_limits(
    redis: Redis | RedisBatcher, limits: Sequence[Limit], *, detail: str | None = None
) -> None:
    """Count one request against `limits`, or raise RateLimited."""
    wait_ms = await hit_limits(redis, limits)
    if wait_ms > 0:
        raise RateLimited(wait_ms, detail)


async def record_failure(redis: Redis, backoff: Backoff) -> int:
    """One more failure in a row; returns the block it earned in ms (0: none yet)."""
    args = [backoff.after, round(backoff.first_s * 1000), round(backoff.longest_s * 1000), FAILURE_MEMORY_MS]
    return int(await S.record_failure(redis, [backoff.counter, backoff.block], args))


async def clear_failures(redis: Redis, backoff: Backoff) -> None:
    await redis.delete(backoff.counter, backoff.block)


def per_address_guard(
    name: str, limit: Callable[[Settings], int], window_s: Callable[[Settings], float], *, detail: str
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]:
    """A route guard counting requests per client address, before the body is read."""

    @answers(429)
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        settings = get_settings()
        subject = limit_subject(client_address(connection))
        redis: Redis = connection.app.state.resources.redis
        await check_limits(
            redis, [Limit(key(name, subject), limit(settings), window_s(settings))], detail=detail
        )

    guard.__name__ = f"limit_{name.replace('-', '_')}"
    return guard

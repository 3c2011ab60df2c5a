"""Redis: the asyncio client and the Lua script loader.

Each script is a `.lua` file whose header documents KEYS, ARGV and the return value.
Scripts run with EVALSHA and are loaded again by themselves after a Redis restart
(NOSCRIPT), on whichever client the caller passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

KeyT = str | bytes
ArgT = str | bytes | int | float


def create_redis(url: str, *, max_connections: int = 200) -> Redis:
    client: Redis = Redis.from_url(
        url, decode_responses=False, max_connections=max_connections, health_check_interval=30
    )
    return client


class Script:
    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[KeyT] = (), args: Sequence[ArgT] = ()) -> Any:
        argv: list[Any] = [*keys, *args]
        try:
            return await redis.evalsha(self.sha, len(keys), *argv)  # type: ignore[misc]
        except NoScriptError:
            await redis.script_load(self.source)
            return await redis.evalsha(self.sha, len(keys), *argv)  # type: ignore[misc]


class Scripts:
    """The `.lua` files of a folder, reachable as attributes: `await S.join_queue(redis, keys, args)`."""

    def __init__(self, folder: Path) -> None:
        self._scripts = {p.stem: Script(p.stem, p.read_text()) for p in sorted(folder.glob("*.lua"))}

    def __getattr__(self, name: str) -> Script:
        try:
            return self._scripts[name]
        except KeyError:
            raise AttributeError(name) from None

    def all(self) -> list[Script]:
        return list(self._scripts.values())

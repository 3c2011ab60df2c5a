"""`core.redis.pack_command` packs exactly as redis-py packs (the batcher sends its bytes)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from core.redis import pack_command

CASES: list[list[Any]] = [
    ["PING"],
    ["EVALSHA", "a" * 40, 2, "k1", b"k2", b"\x00\xff bytes", "", 0, -7, 2**70, 1.5, 1e-9, "ünïcode"],
    ["PUBLISH", "cp:live:{x}", b'{"type":"order"}'],
    ["SET", "big", b"x" * 10_000],  # redis-py splits large values into chunks; the bytes are the same
]


@pytest.mark.parametrize("argv", CASES)
def test_packs_as_redis_py(argv: list[Any]) -> None:
    theirs = b"".join(Connection().pack_command(*argv))
    assert pack_command(argv) == theirs


@pytest.mark.parametrize("bad", [True, None, object(), ["a"]])
def test_refuses_what_redis_py_refuses(bad: Any) -> None:
    with pytest.raises(DataError):
        pack_command(["SET", "k", bad])
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", bad)

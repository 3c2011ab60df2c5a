"""Operator commands: `python manage.py run | migrate | seed | reset-db`.

`run` starts the whole system for development: with DATABASE_URL / REDIS_URL unset it
first starts an embedded PostgreSQL and Redis under `.data/`, then migrates, seeds, and
runs the API, the arq worker and the payments stub until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"


def _ensure_servers() -> None:
    from core import embedded

    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded.start_postgres(DATA)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded.start_redis(DATA)
    from core.config import get_settings

    get_settings.cache_clear()


async def _migrate(*, reset: bool = False, seed: bool = True) -> None:
    import asyncpg

    from core.config import get_settings
    from core.db import migrate
    from reservations.seed import seed as seed_data

    settings = get_settings()
    conn = await asyncpg.connect(settings.database_url)
    try:
        if reset:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            from core.redis import create_redis

            redis = create_redis(settings.redis_url)
            await redis.flushdb()
            await redis.aclose()
        applied = await migrate(conn)
        for name in applied:
            print(f"applied migration {name}")
        if seed:
            await seed_data(conn)
    finally:
        await conn.close()


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    print(f"starting {name}: {' '.join(args)}")
    return subprocess.Popen(args, env=env, cwd=ROOT)  # noqa: S603


def run() -> int:
    _ensure_servers()
    asyncio.run(_migrate())
    from core.config import get_settings
    from payments_stub.service import StubConfig

    settings = get_settings()
    env = dict(os.environ)
    py = sys.executable
    payments_port = str(StubConfig.from_env().port)
    env.setdefault("PAYMENTS_URL", f"http://127.0.0.1:{payments_port}")
    procs = [
        _spawn(
            "payments stub",
            [py, "-m", "uvicorn", "payments_stub.app:app", "--port", payments_port, "--log-level", "warning"],
            env,
        ),
        _spawn("worker", [py, "-m", "jobs", "jobs.worker.WorkerSettings"], env),
        _spawn("orders worker", [py, "-m", "jobs", "jobs.worker.OrdersWorkerSettings"], env),
        _spawn(
            "api",
            [
                py,
                "-m",
                "uvicorn",
                "--factory",
                "app:create_app",
                "--host",
                "0.0.0.0",  # noqa: S104 (a dev server reachable from a phone on the LAN)
                "--port",
                str(settings.port),
                "--log-level",
                "warning",
            ],
            env,
        ),
    ]
    print(f"\nCrowdPass on http://localhost:{settings.port}  (API docs: /schema/swagger)")
    print(f"Organizer token (ADMIN_TOKEN): {settings.admin_token}\nCtrl-C stops everything.\n")
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stop:
        for p in procs:
            if p.poll() is not None:
                print(f"process {p.args!r} exited with {p.returncode}; stopping")
                stop, code = True, 1
        time.sleep(0.3)
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "migrate", "seed", "reset-db"])
    cmd = parser.parse_args().command
    if cmd == "run":
        return run()
    _ensure_servers()
    if cmd == "migrate":
        asyncio.run(_migrate(seed=False))
    elif cmd == "seed":
        asyncio.run(_migrate(seed=True))
    else:
        asyncio.run(_migrate(reset=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

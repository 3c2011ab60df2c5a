"""Operator commands: `python manage.py run | migrate | seed | reset-db`.

`run` starts the whole system for development: with DATABASE_URL / REDIS_URL unset it
first starts an embedded PostgreSQL and Redis under `.data/`, then migrates, seeds, and
runs the API, both arq workers and the payments stub (core/launcher.py), restarting any
that exits, until Ctrl-C or SIGTERM. It runs with CROWDPASS_ENV=dev and, unless the
environment gives them, the JWT_SECRET and ADMIN_TOKEN made once in `.data/secrets.env`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
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
    from waitingroom.plug import plug_into_reservations

    plug_into_reservations()  # the seed's waiting-room sale keeps its room settings

    settings = get_settings()
    conn = await asyncpg.connect(settings.database_url)
    try:
        if reset:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            from core.redis import create_redis

            redis = create_redis(
                settings.redis_url,
                sentinels=settings.redis_sentinels,
                sentinel_master=settings.redis_sentinel_master,
            )
            await redis.flushdb()
            await redis.aclose()
        applied = await migrate(conn)
        for name in applied:
            print(f"applied migration {name}")
        if seed:
            await seed_data(conn)
    finally:
        await conn.close()


def run() -> int:
    from core.credentials import use_dev_secrets

    use_dev_secrets(DATA)  # before any child starts: they inherit os.environ
    _ensure_servers()
    asyncio.run(_migrate())
    from core.config import get_settings
    from core.launcher import Command, Launcher, system_commands
    from core.logs import configure_logging
    from payments_stub.service import StubConfig

    configure_logging(json=False)
    settings = get_settings()
    env = dict(os.environ)
    payments_port = StubConfig.from_env().port
    env.setdefault("PAYMENTS_URL", f"http://127.0.0.1:{payments_port}")
    # The web app's pages tokenise cards at the stub (CORS), opened as localhost or 127.0.0.1.
    env.setdefault(
        "PAYMENTS_CORS_ORIGINS", f"http://localhost:{settings.port},http://127.0.0.1:{settings.port}"
    )
    # The local mail sink: every email the worker sends lands in .data/mail (the web app's
    # development mail page lists them). Pointing SMTP_HOST elsewhere uses that relay instead.
    env.setdefault("MAIL_SINK_DIR", str(Path(".data") / "mail"))
    sink = Command("mail-sink", (sys.executable, "-m", "core.mailsink"))
    commands = [
        sink,
        *system_commands(
            api_port=settings.port,
            payments_port=payments_port,
            api_host="0.0.0.0",  # noqa: S104 (a dev server reachable from a phone on the LAN)
        ),
    ]
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Launcher(env) as launcher:
        for command in commands:
            print(f"starting {command.name}: {' '.join(command.argv)}")
        launcher.start(*commands)
        launcher.supervise()
        print(f"\nCrowdPass on http://localhost:{settings.port}  (API docs: /schema/swagger)")
        print(f"Organizer token (ADMIN_TOKEN): {settings.admin_token}")
        print("A process that exits is restarted; Ctrl-C stops everything.\n")
        while not stop.wait(1.0):
            pass
        print("stopping")
    return 0


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

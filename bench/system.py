"""The system under test, started the way the README starts it, as separate processes.

1. `python manage.py reset-db` on the scenario's own database (created when missing) and
   Redis database: drop, migrate, seed, flush;
2. the payments stub (`uvicorn payments_stub.app:app`), both arq workers
   (`python -m jobs jobs.worker.WorkerSettings`, `... jobs.worker.OrdersWorkerSettings`);
3. the API: `uvicorn --factory app:create_app --host 127.0.0.1 --port N --log-level warning`,
   pinned to the API core with taskset (core 0 by default);
4. the ceiling, when asked: `uvicorn --factory bench.hello:create_app` with the same flags
   on the same core.

The load generators (wrk, the asyncio clients, this process) run on the load core (core 1
by default). PostgreSQL, Redis, the workers and the payments stub are not pinned: on a
2-core machine they share both cores with the rest, as they would in production.

Every process writes its output to `<out>/<name>.log`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/crowdpass_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
ADMISSION_TTL_S = 120


@dataclass
class Layout:
    """Where each process listens and runs."""

    database_url: str
    redis_url: str
    out: Path
    port_base: int = 18700
    api_core: int | None = 0
    load_core: int | None = 1
    db_pool_max: int = 20
    profile: bool = False  # run the API under cProfile (writes <out>/api.prof)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_port(self) -> int:
        return self.port_base

    @property
    def payments_port(self) -> int:
        return self.port_base + 1

    @property
    def hello_port(self) -> int:
        return self.port_base + 2

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def database(self) -> str:
        return urlparse(self.database_url).path.lstrip("/") or "postgres"


def pinned(core: int | None, cmd: list[str]) -> list[str]:
    """`cmd` run on one core with taskset; with core None, on every core (this process may
    itself be pinned to the load core, and children inherit that)."""
    cpus = os.cpu_count() or 1
    if shutil.which("taskset") is None:
        return cmd
    if core is None or core >= cpus:
        return ["taskset", "-c", f"0-{cpus - 1}", *cmd]
    return ["taskset", "-c", str(core), *cmd]


HELLO = "bench.hello:create_app"
FRAMEWORK_FLOOR = "bench.hello_litestar:create_app"


def uvicorn_cmd(target: str, port: int) -> list[str]:
    """The API's command line; the ceiling uses it with another target."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", target,
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip


async def ensure_database(url: str) -> None:
    """Create the database of `url` when the server does not have it."""
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    admin = urlunparse(parsed._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class System:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.admin_token = "bench-" + secrets.token_hex(16)
        self.jwt_secret = secrets.token_hex(32)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, BinaryIO] = {}
        layout.out.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        lay = self.layout
        return {
            **os.environ,
            "DATABASE_URL": lay.database_url,
            "REDIS_URL": lay.redis_url,
            "ADMIN_TOKEN": self.admin_token,
            "JWT_SECRET": self.jwt_secret,
            "PORT": str(lay.api_port),
            "PAYMENTS_PORT": str(lay.payments_port),
            "PAYMENTS_URL": f"http://127.0.0.1:{lay.payments_port}",
            "DB_POOL_MAX": str(lay.db_pool_max),
            "ADMISSION_TTL_S": str(ADMISSION_TTL_S),
            "LOG_JSON": "1",
            **lay.extra_env,
        }

    def reset_data(self) -> None:
        """`manage.py reset-db`: drop, migrate, seed, flush the Redis database."""
        log = self.layout.out / "reset-db.log"
        with log.open("wb") as f:
            done = subprocess.run(
                pinned(None, [sys.executable, "manage.py", "reset-db"]),
                cwd=ROOT,
                env=self.env,
                stdout=f,
                stderr=subprocess.STDOUT,
            )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py reset-db failed:\n{_tail(log)}")

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = (self.layout.out / f"{name}.log").open("wb")
        self._logs[name] = log
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def start(self) -> None:
        lay = self.layout
        py = sys.executable
        _require_free(lay.api_port, lay.payments_port)
        self.spawn(
            "payments",
            pinned(None, [py, "-m", "uvicorn", "payments_stub.app:app", "--host", "127.0.0.1",
                          "--port", str(lay.payments_port), "--log-level", "warning"]),
        )  # fmt: skip
        self.spawn("worker", pinned(None, [py, "-m", "jobs", "jobs.worker.WorkerSettings"]))
        self.spawn("orders-worker", pinned(None, [py, "-m", "jobs", "jobs.worker.OrdersWorkerSettings"]))
        api = uvicorn_cmd("app:create_app", lay.api_port)
        if lay.profile:
            api = [api[0], "-m", "cProfile", "-o", str(lay.out / "api.prof"), *api[1:]]
        self.spawn("api", pinned(lay.api_core, api))
        self.wait_http(f"{lay.api_url}/health")
        self.wait_http(f"http://127.0.0.1:{lay.payments_port}/schema/openapi.json")

    def start_hello(self, target: str = HELLO) -> subprocess.Popen[bytes]:
        """The ceiling (or another reference app) on the API's core, on the hello port."""
        lay = self.layout
        _require_free(lay.hello_port)
        proc = self.spawn("hello", pinned(lay.api_core, uvicorn_cmd(target, lay.hello_port)))
        self.wait_http(f"http://127.0.0.1:{lay.hello_port}/")
        return proc

    def wait_http(self, url: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {p.returncode}:\n{_tail(self.layout.out / f'{name}.log')}"
                    )
            try:
                r = httpx.get(url, timeout=2)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer 200 in {timeout_s} s (last: {last})")

    def pid(self, name: str) -> list[int]:
        p = self.procs.get(name)
        return [p.pid] if p is not None and p.poll() is None else []

    def check_alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {p.returncode}:\n{_tail(self.layout.out / f'{name}.log')}"
                )

    def stop(self, *names: str) -> None:
        chosen = {n: p for n, p in self.procs.items() if not names or n in names}
        for n, p in chosen.items():
            if p.poll() is None:
                # uvicorn re-raises the signal it stopped on; under cProfile only SIGINT
                # (KeyboardInterrupt) lets the profile be written on the way out.
                p.send_signal(signal.SIGINT if n == "api" and self.layout.profile else signal.SIGTERM)
        for p in chosen.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for n in chosen:
            del self.procs[n]
            self._logs.pop(n).close()


def profile_summary(prof: Path, out: Path, top: int = 40) -> None:
    """The API's hottest functions (own time and cumulative) as text beside the profile."""
    import io
    import pstats

    if not prof.exists():
        return
    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    out.write_text(buf.getvalue())


def _require_free(*ports: int) -> None:
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                raise RuntimeError(f"port {port} is taken: stop what listens there or pass --port-base")


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"

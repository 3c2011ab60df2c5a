"""The whole system as separate processes (API, both arq workers, payments stub) on the test
servers, and a headless Chromium for the browser tests.

`system` yields the API's base URL. It lives for one test module: its arq workers share the
test Redis database, so they must be gone before other modules run their own in-process
workers (`worker`, `orders_worker`) and truncate the tables under them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.launcher import Launcher, system_commands
from core.mailsink import start_sink
from tests.conftest import DB_URL, REDIS_URL
from tests.e2e.processes import flush_redis
from tests.ports import any_free_port, first_free_port

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
DIST = FRONTEND / "dist"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ADMIN_TOKEN = "e2e-organizer-token"
PORTS = range(18500, 18600)


def _free_port(skip: set[int]) -> int:
    port = first_free_port(PORTS, taken=skip)
    return port if port is not None else any_free_port()  # the range is full: any free port


async def _reset_data() -> None:
    """Migrated schema, empty tables and Redis database, then the seed (as `make reset-db`,
    without dropping the schema another fixture of this session may already use)."""
    import asyncpg

    from core.db import migrate
    from reservations.seed import seed

    conn = await asyncpg.connect(DB_URL)
    try:
        await migrate(conn)
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        await seed(conn)
    finally:
        await conn.close()
    await flush_redis(REDIS_URL)


def _layout_ports() -> int:
    """A port base whose API and payments ports (base, base + 1) are both free."""
    taken: set[int] = set()
    while True:
        base = _free_port(taken)
        if first_free_port([base + 1]) is not None:
            return base
        taken.add(base)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """API + workers + payments stub as subprocesses on the test servers (started by
    core.launcher, as `make run` and the benchmarks start them); yields the base URL."""
    _ensure_frontend(required=False)
    # In a thread of its own: Playwright's sync API may already run a loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _reset_data()).result()
    api_port = _layout_ports()
    payments_port = api_port + 1
    # A mail sink in this process: the worker sends receipts and notices to it over SMTP.
    mail_dir = tmp_path_factory.mktemp("mail")
    smtp_port = any_free_port()
    sink = start_sink(mail_dir, host="127.0.0.1", port=smtp_port)
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "CROWDPASS_ENV": "dev",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "JWT_SECRET": secrets.token_hex(32),
        "PORT": str(api_port),
        "PAYMENTS_PORT": str(payments_port),
        "PAYMENTS_URL": f"http://127.0.0.1:{payments_port}",
        # The checkout's page tokenises the card at the stub, from the web app's origin.
        "PAYMENTS_CORS_ORIGINS": f"http://127.0.0.1:{api_port}",
        "FRONTEND_DIST": str(DIST),
        "LOG_JSON": "0",
        "PYTHONUNBUFFERED": "1",
        "SMTP_PORT": str(smtp_port),
        "MAIL_SINK_DIR": str(mail_dir),
    }
    with contextlib.ExitStack() as stack:
        stack.callback(sink.stop)
        running = stack.enter_context(Launcher(env, logs=tmp_path_factory.mktemp("system-logs")))
        running.start(*system_commands(api_port=api_port, payments_port=payments_port))
        base = f"http://127.0.0.1:{api_port}"
        running.wait_http(f"{base}/health")
        running.wait_http(f"http://127.0.0.1:{payments_port}/schema/openapi.json")
        yield base


# --- the API, for test set-up -------------------------------------------------------------


class Api:
    """A thin synchronous client for arranging test data through the public API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10)

    def close(self) -> None:
        self.http.close()

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def create_event(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": f"E2E {uuid.uuid4().hex[:6]}",
            "venue": "Test Hall",
            "starts_at": "2031-06-01T20:00:00Z",
            "price_cents": 5000,
            "capacity": 10,
            **fields,
        }
        if "sections" in body:
            body.pop("price_cents", None)
            body.pop("capacity", None)
        r = self.http.post("/api/events", json=body, headers=self.admin())
        assert r.status_code == 201, r.text
        event: dict[str, Any] = r.json()
        return event

    def event(self, event_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/events/{event_id}")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return {**data, **data.get("live", {})}

    def sign_up(self, name: str = "Test Buyer") -> dict[str, Any]:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        r = self.http.post("/api/customers", json={"name": name, "email": email, "password": "correct-horse"})
        assert r.status_code == 201, r.text
        session: dict[str, Any] = r.json()
        session["email"] = email
        session["password"] = "correct-horse"
        return session

    def buy(self, session: dict[str, Any], event_id: str, quantity: int = 1) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {session['token']}"}
        r = self.http.post(f"/api/events/{event_id}/holds", json={"quantity": quantity}, headers=auth)
        assert r.status_code == 201, r.text
        hold = r.json()
        r = self.http.post(
            f"/api/holds/{hold['id']}/confirm",
            json={"payment_method": "pm_card_visa"},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


@pytest.fixture(scope="module")
def api(system: str) -> Iterator[Api]:
    client = Api(system)
    yield client
    client.close()


# --- the browser ----------------------------------------------------------------------------


def _ensure_frontend(*, required: bool) -> None:
    """Build the web app when it is missing (as `make frontend` does)."""
    if (DIST / "index.html").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        if required:
            pytest.skip("frontend/dist is not built and npm is missing: run `make frontend`")
        return
    if not (FRONTEND / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser).

    Per module: Playwright's sync API runs an event loop in this thread while it lives, which
    the async tests of other modules could not share.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` to run the browser tests")
    _ensure_frontend(required=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            with contextlib.suppress(Exception):
                b.close()


@pytest.fixture
def new_page(browser: Any, system: str) -> Iterator[Any]:
    """Factory of pages, each in its own browser context (its own storage: another person)."""
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 900) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, base_url=system)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.close()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS

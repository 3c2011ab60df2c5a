"""Reading the deployment files: docker-compose.yml, deploy/nginx.conf, .env.example.

Shared by the unit checks (tests/unit/deploy) and by the e2e test that starts the same
processes directly (tests/e2e/test_compose_processes.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
LB_CONF = ROOT / "deploy" / "nginx.conf"
FRONTEND_CONF = ROOT / "frontend" / "nginx.conf"
ENV_EXAMPLE = ROOT / ".env.example"

APP_IMAGE = "crowdpass-app:latest"
BASE_IMAGE = "crowdpass/debian:bookworm"
API_SERVICES = ("api1", "api2")

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def memory_bytes(value: str | int) -> int:
    """Docker's reading of a memory size: "128M" is 128 MiB (binary units, as Docker uses)."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    assert match, f"not a memory size: {value!r}"
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's `${NAME}` / `${NAME:-default}` / `${NAME:?error}`, from `env` (empty: the
    defaults). A required variable absent from `env` reads as a stand-in long enough for a
    secret (compose itself would refuse to start)."""
    env = env or {}

    def value_of(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if env.get(name):
            return env[name]
        if op.endswith("?"):
            return f"stand-in-{name.lower()}-for-reading-the-compose-file"
        return arg

    return _VAR.sub(value_of, value)


def required_variables(value: str) -> set[str]:
    """The names that `value` requires (`${NAME:?error}`): no default, compose refuses without them."""
    return {m.group(1) for m in _VAR.finditer(value) if (m.group(2) or "").endswith("?")}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def app_services() -> dict[str, dict[str, Any]]:
    """The services that run the Python image (API, workers, payments stub, migrate)."""
    return {name: svc for name, svc in services().items() if svc.get("image") == APP_IMAGE}


def env_example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def nginx_blocks(text: str, name: str) -> list[str]:
    """The bodies of every `name ... { ... }` block (nested braces included), comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    bodies = []
    for match in re.finditer(rf"(?m)^\s*{re.escape(name)}\b[^{{;]*\{{", text):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        bodies.append(text[match.end() : i - 1])
    return bodies


def directives(text: str, name: str) -> list[str]:
    """The arguments of every `name args;` directive in `text`, comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    return [m.group(1).strip() for m in re.finditer(rf"(?m)^\s*{re.escape(name)}\s+([^;]*);", text)]

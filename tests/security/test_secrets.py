"""Abuse cases of secrets: in production (CROWDPASS_ENV unset) the API and both workers
refuse to start with a missing, public or short JWT_SECRET or ADMIN_TOKEN; development
(make run, the tests, the benchmarks) uses secrets generated once per install under
.data/, never the public fallbacks; a value in the environment always wins."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
STRONG = "s" * 32
PUBLIC_DEFAULTS = {"dev-admin-token", "dev-only-secret-change-me-in-production-0123456789"}

API = [sys.executable, "-m", "uvicorn", "--factory", "app:create_app", "--port", "0"]
WORKER = [sys.executable, "-m", "jobs", "jobs.worker.WorkerSettings"]
ORDERS_WORKER = [sys.executable, "-m", "jobs", "orders"]


def _start(argv: list[str], **env: str | None) -> subprocess.CompletedProcess[str] | None:
    """Run `argv` in production with these variables (None: unset); the finished process,
    or None when it was still running after 20 s (it started)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("CROWDPASS_ENV", "JWT_SECRET", "ADMIN_TOKEN")}
    environ |= {k: v for k, v in env.items() if v is not None}
    environ["PYTHONUNBUFFERED"] = "1"
    try:
        return subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return None


UNSAFE = [
    pytest.param("JWT_SECRET", {"JWT_SECRET": None, "ADMIN_TOKEN": STRONG + "a"}, id="jwt-missing"),
    pytest.param(
        "JWT_SECRET",
        {"JWT_SECRET": "dev-only-secret-change-me-in-production-0123456789", "ADMIN_TOKEN": STRONG + "a"},
        id="jwt-public-default",
    ),
    pytest.param("JWT_SECRET", {"JWT_SECRET": "x", "ADMIN_TOKEN": STRONG + "a"}, id="jwt-short"),
    pytest.param("ADMIN_TOKEN", {"JWT_SECRET": STRONG, "ADMIN_TOKEN": None}, id="admin-missing"),
    pytest.param("ADMIN_TOKEN", {"JWT_SECRET": STRONG, "ADMIN_TOKEN": "dev-admin-token"}, id="admin-default"),
    pytest.param("ADMIN_TOKEN", {"JWT_SECRET": STRONG, "ADMIN_TOKEN": "a" * 31}, id="admin-short"),
]


@pytest.mark.parametrize(("variable", "env"), UNSAFE)
def test_api_refuses_to_start_in_production(variable: str, env: dict[str, str | None]) -> None:
    done = _start(API, **env)
    assert done is not None, "the API started"
    assert done.returncode == 1
    assert variable in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [WORKER, ORDERS_WORKER], ids=["worker", "orders-worker"])
@pytest.mark.parametrize(("variable", "env"), UNSAFE[::3])
def test_workers_refuse_to_start_in_production(
    argv: list[str], variable: str, env: dict[str, str | None]
) -> None:
    done = _start(argv, **env)
    assert done is not None, "the worker started"
    assert done.returncode == 1
    assert variable in done.stderr
    assert "Traceback" not in done.stderr


def test_the_test_suite_runs_on_per_install_secrets(settings: Settings) -> None:
    assert settings.crowdpass_env == "dev"  # type: ignore[attr-defined]
    assert settings.admin_token not in PUBLIC_DEFAULTS
    assert settings.jwt_secret not in PUBLIC_DEFAULTS
    assert len(settings.admin_token) >= 32 and len(settings.jwt_secret) >= 32


def test_dev_secrets_are_made_once_per_install_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.credentials import use_dev_secrets

    for name in ("CROWDPASS_ENV", "JWT_SECRET", "ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    use_dev_secrets(tmp_path)
    path = tmp_path / "secrets.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = (os.environ["JWT_SECRET"], os.environ["ADMIN_TOKEN"])
    assert os.environ["CROWDPASS_ENV"] == "dev"
    assert len(first[0]) >= 32 and len(first[1]) >= 32 and first[0] != first[1]
    assert not set(first) & PUBLIC_DEFAULTS

    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("ADMIN_TOKEN", "given-by-the-operator")
    use_dev_secrets(tmp_path)
    assert os.environ["JWT_SECRET"] == first[0]  # the same install, the same secret
    assert os.environ["ADMIN_TOKEN"] == "given-by-the-operator"

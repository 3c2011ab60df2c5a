"""Routes of the waiting room."""

from __future__ import annotations

route_handlers: list[object] = []

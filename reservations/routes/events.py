"""Routes: events."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

route_handlers: list[ControllerRouterHandler] = []

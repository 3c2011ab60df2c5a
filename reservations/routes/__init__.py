"""Every route of the domain, gathered for app.py."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from reservations.routes import admin, challenge, customers, events, holds, live, orders, purchases

route_handlers: list[ControllerRouterHandler] = [
    *customers.route_handlers,
    *events.route_handlers,
    *holds.route_handlers,
    *orders.route_handlers,
    *purchases.route_handlers,
    *live.route_handlers,
    *admin.route_handlers,
    *challenge.route_handlers,
]

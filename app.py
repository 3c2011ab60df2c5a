"""create_app(): the only module that imports every domain's routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.types import ControllerRouterHandler

from core.addresses import trusted_networks
from core.auth import authentication_middleware
from core.config import Settings, get_settings
from core.credentials import refuse_unsafe_secrets
from core.deps import dependencies
from core.errors import exception_handlers
from core.logs import configure_logging, request_id_middleware
from core.openapi import document_errors
from core.ops import client_config, health, metrics, metrics_middleware
from core.realtime import create_channels
from core.resources import Resources, open_resources
from core.runtime import settle_heap
from core.security import security_headers
from reservations.admin.routes import route_handlers as admin_routes
from reservations.challenge.routes import route_handlers as challenge_routes
from reservations.checkin.routes import route_handlers as checkin_routes
from reservations.codes.routes import route_handlers as code_routes
from reservations.customers.routes import route_handlers as customer_routes
from reservations.etickets.routes import route_handlers as eticket_routes
from reservations.events.management_routes import route_handlers as event_management_routes
from reservations.events.routes import route_handlers as event_routes
from reservations.holds.routes import route_handlers as hold_routes
from reservations.live.routes import route_handlers as live_routes
from reservations.mail.routes import route_handlers as mail_routes
from reservations.orders import fast_route
from reservations.orders.routes import route_handlers as order_routes
from reservations.passwords.routes import route_handlers as password_routes
from reservations.refunds.routes import route_handlers as refund_routes
from reservations.waitlist.routes import route_handlers as waitlist_routes
from waitingroom.plug import plug_into_reservations
from waitingroom.routes import route_handlers as waitingroom_routes
from webapp import frontend_routes, not_found_handler

log = logging.getLogger("crowdpass.app")


class CrowdPass(Litestar):
    """The Litestar app, with `POST /api/orders` looked at first by its thin ASGI route
    (reservations/orders/fast_route.py), which answers it or hands it to Litestar.
    `fast_orders = False` (ORDERS_FAST_ROUTE=0) sends every request through Litestar."""

    fast_orders = True
    add_security_headers: Any = None  # the before-send hook of create_app, for the thin route too

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.fast_orders and fast_route.handles(scope):
            await fast_route.serve(
                self.state.resources,
                super().__call__,
                scope,
                receive,
                send,
                add_headers=self.add_security_headers,
            )
            return
        await super().__call__(scope, receive, send)


def _frontend_routes(dist: Path) -> list[ControllerRouterHandler]:
    """index.html at the app's paths, an event's page with its tags, the bundle (webapp.py)."""
    return frontend_routes(dist)


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> CrowdPass:
    settings = settings or get_settings()
    refuse_unsafe_secrets(settings)  # in production: exit 1 on a missing, public or short secret
    configure_logging(json=settings.log_json)
    trusted_networks(settings.trusted_proxies)  # a TRUSTED_PROXIES that is no CIDR list stops the start

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        res = resources or await open_resources(settings)
        app.state.resources = res
        settle_heap()
        try:
            yield
        finally:
            await channels_redis.aclose()
            if resources is None:
                await res.close()

    # The channels plugin needs its Redis client at construction; it gets its own.
    from core.redis import create_redis

    channels_redis = create_redis(
        settings.redis_url, sentinels=settings.redis_sentinels, sentinel_master=settings.redis_sentinel_master
    )
    channels = create_channels(channels_redis)

    plug_into_reservations()
    dist = Path(settings.frontend_dist)
    add_headers = security_headers(settings)
    app = CrowdPass(
        route_handlers=[
            health,
            metrics,
            client_config,
            *customer_routes,
            *event_routes,
            *hold_routes,
            *order_routes,
            *live_routes,
            *admin_routes,
            *challenge_routes,
            *eticket_routes,
            *checkin_routes,
            *refund_routes,
            *event_management_routes,
            *code_routes,
            *mail_routes,
            *password_routes,
            *waitlist_routes,
            *waitingroom_routes,
            *_frontend_routes(dist),
        ],
        dependencies=dependencies,
        exception_handlers={**exception_handlers, NotFoundException: not_found_handler(dist)},
        lifespan=[lifespan],
        plugins=[channels],
        middleware=[request_id_middleware, metrics_middleware, authentication_middleware],
        before_send=[add_headers],
        # Seat maps come gzipped once per version (reservations/events/seatmap.py).
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=1024, exclude=["/api/ws", "/api/events/[^/]+/seats"]
        ),
        request_max_body_size=64 * 1024,
        openapi_config=OpenAPIConfig(
            title="CrowdPass",
            version="0.1.0",
            path="/schema",
            description="Virtual waiting room and ticket reservations for flash sales.",
            render_plugins=[SwaggerRenderPlugin(path="/swagger")],
        ),
    )
    document_errors(app)  # every error status each operation can answer, with the one error body
    app.fast_orders = settings.orders_fast_route
    app.add_security_headers = add_headers
    return app

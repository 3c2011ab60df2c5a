"""create_app(): the only module that imports every domain's routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, MediaType, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from core.auth import authentication_middleware
from core.config import Settings, get_settings
from core.deps import dependencies
from core.errors import exception_handlers
from core.logs import configure_logging, request_id_middleware
from core.ops import health, metrics, metrics_middleware
from core.realtime import create_channels
from core.resources import Resources, open_resources
from core.runtime import settle_heap
from reservations.admin.routes import route_handlers as admin_routes
from reservations.challenge.routes import route_handlers as challenge_routes
from reservations.customers.routes import route_handlers as customer_routes
from reservations.events.routes import route_handlers as event_routes
from reservations.holds.routes import route_handlers as hold_routes
from reservations.live.routes import route_handlers as live_routes
from reservations.orders.routes import route_handlers as order_routes
from waitingroom.plug import plug_into_reservations
from waitingroom.routes import route_handlers as waitingroom_routes

log = logging.getLogger("crowdpass.app")


def _frontend_routes(dist: Path) -> list[ControllerRouterHandler]:
    index = dist / "index.html"
    if not index.exists():

        @get("/", include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
        def placeholder() -> str:
            return (
                "<!doctype html><title>CrowdPass</title><h1>CrowdPass</h1>"
                "<p>The web app is not built yet: run <code>make frontend</code>.</p>"
                '<p><a href="/schema/swagger">API documentation</a></p>'
            )

        return [placeholder]

    @get(["/", "/index.html"], include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
    def spa() -> Response[bytes]:
        return Response(index.read_bytes(), media_type=MediaType.HTML, headers={"Cache-Control": "no-cache"})

    routes: list[ControllerRouterHandler] = [spa]
    if (dist / "assets").is_dir():
        routes.append(
            create_static_files_router(
                path="/assets",
                directories=[dist / "assets"],
                include_in_schema=False,
                name="assets",
                # File names carry a content hash: a file never changes under its name.
                cache_control=CacheControlHeader(public=True, max_age=31_536_000, immutable=True),
            )
        )
    return routes


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(json=settings.log_json)

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

    channels_redis = create_redis(settings.redis_url)
    channels = create_channels(channels_redis)

    plug_into_reservations()
    return Litestar(
        route_handlers=[
            health,
            metrics,
            *customer_routes,
            *event_routes,
            *hold_routes,
            *order_routes,
            *live_routes,
            *admin_routes,
            *challenge_routes,
            *waitingroom_routes,
            *_frontend_routes(Path(settings.frontend_dist)),
        ],
        dependencies=dependencies,
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        plugins=[channels],
        middleware=[request_id_middleware, metrics_middleware, authentication_middleware],
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

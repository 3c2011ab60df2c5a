"""Health, metrics and the web app's configuration endpoints, and the Prometheus instruments
shared by every process."""

from __future__ import annotations

import asyncio
import contextlib
import time

from litestar import MediaType, Response, get
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from core import queues
from core.deps import ResDep
from core.resources import Resources
from core.schemas import Out

REQUEST_LATENCY = Histogram(
    "crowdpass_request_seconds",
    "HTTP request latency by route",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
HOLDS = Counter("crowdpass_holds_total", "Holds by outcome", ["outcome"])
ORDERS = Counter("crowdpass_orders_total", "Orders by outcome", ["outcome"])
OPEN_WEBSOCKETS = Gauge("crowdpass_open_websockets", "Open WebSocket connections", ["kind"])
ORDERS_WAITING_PAYMENT = Counter(
    "crowdpass_orders_waited_for_payment_total", "Orders that had to wait for the payment provider"
)
PAYMENTS_CIRCUIT_OPEN = Gauge(
    "crowdpass_payments_circuit_open", "1 while this process's payment circuit breaker is open or half open"
)
ORDER_REJECTIONS = Counter("crowdpass_order_rejections_total", "Rejected orders by reason", ["reason"])
ORDER_DECISION_SECONDS = Histogram(
    "crowdpass_order_decision_seconds",
    "Time from an order's acceptance to its decision",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOB_SECONDS = Histogram(
    "crowdpass_job_seconds",
    "arq job run time by function and outcome (observed in the worker process)",
    ["function", "outcome"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = Gauge(
    "crowdpass_queue_depth",
    "Jobs or orders waiting or running per queue: arq's queue, the orders stream (read at scrape)",
    ["queue"],
)
ORDERS_PENDING = Gauge(
    "crowdpass_orders_pending",
    "Orders read from the stream and not acknowledged yet, per consumer (read at scrape)",
    ["consumer"],
)
ORDERS_OLDEST_PENDING = Gauge(
    "crowdpass_orders_oldest_pending_seconds",
    "Age of the oldest order read from the stream and not acknowledged yet (read at scrape)",
)


class Health(Out, frozen=True):
    status: str
    postgres: str
    redis: str


async def _probe_postgres(res: Resources) -> str:
    try:
        async with asyncio.timeout(2):
            await res.pool.fetchval("SELECT 1")
        return "up"
    except Exception:  # any failure means "down" to a health check
        return "down"


async def _probe_redis(res: Resources) -> str:
    try:
        async with asyncio.timeout(2):
            await res.redis.ping()
        return "up"
    except Exception:  # any failure means "down" to a health check
        return "down"


class ClientConfig(Out, frozen=True):
    """What the web app's pages need to know of the deployment."""

    payments_url: str  # the payment provider's base URL, where the checkout tokenises a card


@get("/api/config", operation_id="getClientConfig", tags=["operations"])
async def client_config(res: ResDep) -> ClientConfig:
    """The web app's configuration: the checkout sends the card number straight to the
    provider (`POST {payments_url}/v1/payment_methods`) and the API only a `payment_method`."""
    return ClientConfig(payments_url=res.settings.payments_browser_url)


@get("/health", operation_id="health", tags=["operations"])
async def health(res: ResDep) -> Response[Health]:
    pg, rd = await asyncio.gather(_probe_postgres(res), _probe_redis(res))
    ok = pg == "up" and rd == "up"
    return Response(
        Health(status="ok" if ok else "degraded", postgres=pg, redis=rd), status_code=200 if ok else 503
    )


@get(
    "/metrics",
    operation_id="metrics",
    tags=["operations"],
    media_type=MediaType.TEXT,
    include_in_schema=False,
)
async def metrics(res: ResDep) -> Response[bytes]:
    with contextlib.suppress(Exception):  # a scrape still answers when Redis does not
        async with asyncio.timeout(1):
            QUEUE_DEPTH.labels(queues.DEFAULT_QUEUE).set(await res.redis.zcard(queues.DEFAULT_QUEUE))
            QUEUE_DEPTH.labels(queues.ORDERS_QUEUE).set(await res.redis.xlen(queues.ORDERS_QUEUE))
            pending = await res.redis.xpending(queues.ORDERS_QUEUE, queues.ORDERS_GROUP)
            ORDERS_PENDING.clear()
            for c in pending.get("consumers") or []:
                ORDERS_PENDING.labels(c["name"].decode()).set(c["pending"])
            oldest = pending.get("min")
            ORDERS_OLDEST_PENDING.set(time.time() - int(oldest.split(b"-")[0]) / 1000 if oldest else 0)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Observe each HTTP request's latency under its route template (not its raw path)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = scope["method"]
        start = time.perf_counter()
        status: int | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        except Exception as exc:
            # Refused by a middleware below (a 401 from core.auth): Litestar's exception
            # handler answers above this middleware, so count the status the error carries.
            if status is None:
                status = getattr(exc, "status_code", 500)
            raise
        finally:
            route = scope.get("path_template") or "unmatched"
            REQUEST_LATENCY.labels(method, route, str(status or 500)).observe(time.perf_counter() - start)

    return middleware

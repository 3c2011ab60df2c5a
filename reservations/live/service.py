"""Live messages: a customer's own orders (`/api/ws`) and an event's stock and purchases
(`/api/events/{id}/live`), published through Redis so any API instance can serve them.

Stock pushes are coalesced: every change of ticket state calls `stock.stock_changed`,
which enqueues `live.push_stock` under one job id per event, deferred a quarter second;
changes in that window ride along. The push reads fresh counters from PostgreSQL and
also writes the available count and the sold-out flag the order gate reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from arq.connections import ArqRedis
from litestar import WebSocket
from litestar.channels import ChannelsPlugin
from litestar.exceptions import WebSocketDisconnect

from core.db import Connection, queries_beside
from core.errors import AppError, Forbidden
from core.ops import OPEN_WEBSOCKETS
from core.realtime import Publisher, publisher_for, resubscribed
from core.resources import Resources
from core.wstickets import redeem_ws_ticket
from reservations import keys
from reservations.errors import EventNotFound
from reservations.events import seatmap
from reservations.events import service as events
from reservations.events.schemas import Event
from reservations.inventory import stock
from reservations.live.schemas import (
    OrderMessage,
    PurchaseMessage,
    ReadyMessage,
    RecentPurchase,
    SeatsMessage,
    StockMessage,
    TypeCounts,
)
from reservations.orders import service as orders
from reservations.orders.schemas import Order

Q = queries_beside(__file__)
log = logging.getLogger("crowdpass.live")
SNAPSHOT_ORDERS = 20  # a customer's latest orders sent again after a pub/sub loss
SNAPSHOT_TRIES = 5
SNAPSHOT_RETRY_S = 0.5


async def publish_purchase(
    publisher: Publisher, *, event_id: uuid.UUID, buyer_name: str, at: dt.datetime
) -> None:
    """Tell the event's live page that someone bought. Call after the purchase committed."""
    message = PurchaseMessage(type="purchase", buyer=buyer_label(buyer_name), at=at)
    await publisher.publish(keys.event_live_channel(event_id), message)


async def announce_purchase(
    redis: ArqRedis, *, event_id: uuid.UUID, buyer_name: str, at: dt.datetime
) -> None:
    """`publish_purchase` for a request path: the purchase has committed, so a failure to
    announce it is logged, never raised."""
    try:
        await publish_purchase(publisher_for(redis), event_id=event_id, buyer_name=buyer_name, at=at)
    except Exception:  # the sale stands; only the live feed misses one line
        log.exception("could not announce a purchase of event %s", event_id)


async def publish_order(publisher: Publisher, *, customer_id: uuid.UUID, order: Order) -> None:
    """Tell the customer (every socket of theirs, on any instance) how their order ended."""
    await publisher.publish(keys.customer_channel(customer_id), OrderMessage(type="order", order=order))


async def current_stock(
    conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID, event: Event | None = None
) -> StockMessage:
    """Fresh counters and status of an event; keeps the order gate's stock (available
    count, sold-out flag) in step."""
    event = event or await events.get_event(conn, event_id=event_id)
    counts = await stock.read_stock(conn, event_id=event_id)
    status = events.event_status(event, available=counts.available, now=dt.datetime.now(dt.UTC))
    await stock.cache_gate_stock(
        redis,
        event_id=event_id,
        available=counts.available,
        types={t.name: t.available for t in counts.types},
    )
    return StockMessage(
        type="stock",
        sold=counts.sold,
        held=counts.held,
        available=counts.available,
        status=status,
        types=[TypeCounts(name=t.name, sold=t.sold, held=t.held, available=t.available) for t in counts.types]
        or None,  # absent for an event without types
    )


async def push_stock(conn: Connection, redis: ArqRedis, publisher: Publisher, *, event_id: uuid.UUID) -> bool:
    """Publish an event's counters on its live channel (the `live.push_stock` job), and for
    a seated event the seats that changed since the last push (`{"type": "seats"}`). What the seat
    delta took paces the event's next push (`inventory/stock.py`, LIVE_PUSH_COST_FACTOR)."""
    try:
        event = await events.get_event(conn, event_id=event_id)
        message = await current_stock(conn, redis, event_id=event_id, event=event)
        started = time.perf_counter()
        delta = await seatmap.seat_changes(conn, redis, event_id=event_id) if event.seated else None
        map_ms = math.ceil((time.perf_counter() - started) * 1000) if event.seated else 0
    except EventNotFound:
        return False
    await publisher.publish(keys.event_live_channel(event_id), message)
    if delta is not None:
        since, version, changes = delta
        seats = SeatsMessage(type="seats", since=since, version=version, changes=changes)
        await publisher.publish(keys.event_live_channel(event_id), seats)
    if map_ms:  # paces the event's next push; a map-less push costs the same at any size
        await redis.set(keys.live_push_cost(event_id), map_ms, ex=3600)
    return True


_encoder = msgspec.json.Encoder()


Snapshot = Callable[[], Awaitable[Sequence[msgspec.Struct]]]


async def relay(
    socket: WebSocket[Any, Any, Any],
    channels: ChannelsPlugin,
    *,
    channel: str,
    kind: str,
    snapshot: Snapshot | None = None,
    snapshot_first: bool = True,
) -> None:
    """Forward one channel to an accepted socket until the client goes away.

    Sends the `snapshot` messages (when `snapshot_first`), then `{"type": "ready"}` once
    the subscription is live.
    When this process's pub/sub comes back after a Redis loss (messages published
    meanwhile were missed), sends a fresh snapshot and `ready` again.
    """
    OPEN_WEBSOCKETS.labels(kind).inc()
    stale = asyncio.Event()
    try:
        with resubscribed(channels).listen(stale.set):
            async with channels.start_subscription([channel]) as subscriber:
                first = await snapshot() if snapshot is not None and snapshot_first else ()
                await _send_all(socket, first)
                async with subscriber.run_in_background(socket.send_data):
                    refresher = asyncio.create_task(_refresh_when_stale(socket, stale, snapshot))
                    try:
                        while True:  # the client only listens; reading notices when it leaves
                            await socket.receive_data(mode="text")
                    finally:
                        refresher.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await refresher
    except WebSocketDisconnect:
        pass
    finally:
        OPEN_WEBSOCKETS.labels(kind).dec()


async def _send_all(socket: WebSocket[Any, Any, Any], messages: Sequence[msgspec.Struct]) -> None:
    for message in (*messages, ReadyMessage(type="ready")):
        await socket.send_data(_encoder.encode(message).decode())


async def _refresh_when_stale(
    socket: WebSocket[Any, Any, Any], stale: asyncio.Event, snapshot: Snapshot | None
) -> None:
    """After each pub/sub reconnect: the snapshot again (retried while PostgreSQL or Redis
    is still coming back)."""
    while True:
        await stale.wait()
        stale.clear()
        for attempt in range(SNAPSHOT_TRIES):
            try:
                await _send_all(socket, await snapshot() if snapshot is not None else ())
                break
            except (WebSocketDisconnect, RuntimeError):
                return  # the client left meanwhile
            except Exception as exc:  # a store not back yet: try again shortly
                log.info("live snapshot failed (%s), try %d", exc, attempt + 1)
                await asyncio.sleep(SNAPSHOT_RETRY_S * (attempt + 1))


async def serve_customer(
    socket: WebSocket[Any, Any, Any], channels: ChannelsPlugin, res: Resources, *, ticket: str | None
) -> None:
    """`/api/ws?ticket=<ticket>`: the customer's orders and holds as they change. A missing,
    unknown, used or expired ticket closes the socket with code 4401; a visitor's, 4403.
    After a pub/sub loss the customer's latest orders are sent again (`recent_orders`)."""
    await socket.accept()
    try:
        caller = await redeem_ws_ticket(res.redis, ticket)
        if caller.customer_id is None:
            raise Forbidden("This socket needs a customer's ticket.")
        customer_id = caller.customer_id
    except AppError as exc:
        await socket.close(code=4401 if exc.status_code == 401 else 4403, reason=exc.detail[:120])
        return

    async def orders_now() -> list[OrderMessage]:
        async with res.pool.acquire() as conn:
            return await recent_orders(conn, customer_id=customer_id)

    channel = keys.customer_channel(customer_id)
    await relay(socket, channels, channel=channel, kind="customer", snapshot=orders_now, snapshot_first=False)


async def recent_orders(conn: Connection, *, customer_id: uuid.UUID) -> list[OrderMessage]:
    """The customer's latest decided orders as `order` messages, oldest first: what a
    socket that may have missed some decisions is sent again."""
    ids = [r["id"] for r in await conn.fetch(Q.recent_orders_of_customer, customer_id, SNAPSHOT_ORDERS)]
    found = await orders.load_orders(conn, order_ids=ids)
    return [OrderMessage(type="order", order=found[i].order) for i in reversed(ids)
            if i in found and found[i].order.status != "queued"]  # fmt: skip


async def serve_event(
    socket: WebSocket[Any, Any, Any], channels: ChannelsPlugin, res: Resources, *, event_id: uuid.UUID
) -> None:
    """`/api/events/{id}/live`: the current counters first, then stock and purchases as
    they happen. An unknown event closes the socket with code 4404."""
    await socket.accept()

    async def stock_now() -> list[StockMessage]:
        async with res.pool.acquire() as conn:
            return [await current_stock(conn, res.redis, event_id=event_id)]

    try:
        await stock_now()
    except EventNotFound:
        await socket.close(code=4404, reason="No event with this id.")
        return
    await relay(socket, channels, channel=keys.event_live_channel(event_id), kind="event", snapshot=stock_now)


def buyer_label(name: str) -> str:
    """ "Maria Silva Santos" → "Maria S."; a single name stays as it is."""
    parts = name.split()
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0].upper()}."


async def list_recent_purchases(
    conn: Connection, *, limit: int = 20, event_id: uuid.UUID | None = None
) -> list[RecentPurchase]:

    return [
        RecentPurchase(
            id=r["id"],
            event_id=r["event_id"],
            event_name=r["event_name"],
            buyer=buyer_label(r["buyer_name"]),
            at=r["created_at"],
        )
        for r in await conn.fetch(Q.list_recent_purchases, limit, event_id)
    ]

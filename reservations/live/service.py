"""Live messages: a customer's own orders (`/api/ws`) and an event's stock and purchases
(`/api/events/{id}/live`), published through Redis so any API instance can serve them.

Stock pushes are coalesced: every change of ticket state calls `stock.stock_changed`,
which enqueues `live.push_stock` under one job id per event, deferred a quarter second;
changes in that window ride along. The push reads fresh counters from PostgreSQL and
also writes the available count and the sold-out flag the order gate reads.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from arq.connections import ArqRedis
from litestar import WebSocket
from litestar.channels import ChannelsPlugin
from litestar.exceptions import WebSocketDisconnect

from core.auth import principal_from_token
from core.db import Connection, queries_beside
from core.errors import AppError
from core.ops import OPEN_WEBSOCKETS
from core.realtime import Publisher, publisher_for
from core.resources import Resources
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
)
from reservations.orders.schemas import Order

Q = queries_beside(__file__)
log = logging.getLogger("crowdpass.live")


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
    await stock.cache_gate_stock(redis, event_id=event_id, available=counts.available)
    return StockMessage(
        type="stock", sold=counts.sold, held=counts.held, available=counts.available, status=status
    )


async def push_stock(conn: Connection, redis: ArqRedis, publisher: Publisher, *, event_id: uuid.UUID) -> bool:
    """Publish an event's counters on its live channel (the `live.push_stock` job), and for
    a seated event the seats that changed since the last push (`{"type": "seats"}`)."""
    try:
        event = await events.get_event(conn, event_id=event_id)
        message = await current_stock(conn, redis, event_id=event_id, event=event)
        delta = await seatmap.seat_changes(conn, redis, event_id=event_id) if event.seated else None
    except EventNotFound:
        return False
    await publisher.publish(keys.event_live_channel(event_id), message)
    if delta is not None:
        since, version, changes = delta
        seats = SeatsMessage(type="seats", since=since, version=version, changes=changes)
        await publisher.publish(keys.event_live_channel(event_id), seats)
    return True


_encoder = msgspec.json.Encoder()


async def relay(
    socket: WebSocket[Any, Any, Any],
    channels: ChannelsPlugin,
    *,
    channel: str,
    kind: str,
    first: Sequence[msgspec.Struct] = (),
) -> None:
    """Forward one channel to an accepted socket until the client goes away.

    Sends `first` messages, then `{"type": "ready"}` once the subscription is live.
    """
    OPEN_WEBSOCKETS.labels(kind).inc()
    try:
        async with channels.start_subscription([channel]) as subscriber:
            for message in (*first, ReadyMessage(type="ready")):
                await socket.send_data(_encoder.encode(message).decode())
            async with subscriber.run_in_background(socket.send_data):
                while True:  # the client only listens; reading notices when it leaves
                    await socket.receive_data(mode="text")
    except WebSocketDisconnect:
        pass
    finally:
        OPEN_WEBSOCKETS.labels(kind).dec()


async def serve_customer(
    socket: WebSocket[Any, Any, Any], channels: ChannelsPlugin, *, token: str | None
) -> None:
    """`/api/ws?token=<customer jwt>`: the customer's orders and holds as they change.
    A missing or bad token closes the socket with code 4401."""
    await socket.accept()
    try:
        customer_id = principal_from_token(token or "").require_customer()
    except AppError as exc:
        await socket.close(code=4401 if exc.status_code == 401 else 4403, reason=exc.detail[:120])
        return
    await relay(socket, channels, channel=keys.customer_channel(customer_id), kind="customer")


async def serve_event(
    socket: WebSocket[Any, Any, Any], channels: ChannelsPlugin, res: Resources, *, event_id: uuid.UUID
) -> None:
    """`/api/events/{id}/live`: the current counters first, then stock and purchases as
    they happen. An unknown event closes the socket with code 4404."""
    await socket.accept()
    try:
        async with res.pool.acquire() as conn:
            first = await current_stock(conn, res.redis, event_id=event_id)
    except EventNotFound:
        await socket.close(code=4404, reason="No event with this id.")
        return
    await relay(socket, channels, channel=keys.event_live_channel(event_id), kind="event", first=[first])


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

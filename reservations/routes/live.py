"""Routes: the live WebSockets (API.md section 2, "Orders" and "Live and public")."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from core.deps import ResDep
from reservations.service import live

ChannelsDep = NamedDependency[ChannelsPlugin]


@websocket("/api/ws")
async def customer_socket(socket: WebSocket[Any, Any, Any], channels: ChannelsDep) -> None:
    """Pushes `{"type": "order", order}` when an order is decided and `{"type": "hold", hold}`
    when a hold changes. Authenticate with `?token=<customer jwt>`."""
    await live.serve_customer(socket, channels, token=socket.query_params.get("token"))


@websocket("/api/events/{event_id:uuid}/live")
async def event_socket(
    socket: WebSocket[Any, Any, Any], event_id: FromPath[UUID], channels: ChannelsDep, res: ResDep
) -> None:
    """Pushes `{"type": "stock", sold, held, available, status}` (a few per second at most)
    and `{"type": "purchase", buyer, at}`. Public."""
    await live.serve_event(socket, channels, res, event_id=event_id)


route_handlers: list[ControllerRouterHandler] = [customer_socket, event_socket]

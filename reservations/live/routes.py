"""Routes: the live WebSockets (API.md section 2, "Orders" and "Live and public")."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, WebSocket, get, websocket
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, ResDep
from core.schemas import parse_uuid
from reservations.live import service as live
from reservations.live.schemas import RecentPurchase

ChannelsDep = NamedDependency[ChannelsPlugin]


class LiveController(Controller):
    path = "/api"

    @websocket("/ws")
    async def customer_socket(self, socket: WebSocket[Any, Any, Any], channels: ChannelsDep) -> None:
        """Pushes `{"type": "order", order}` when an order is decided and `{"type": "hold", hold}`
        when a hold changes. Authenticate with `?token=<customer jwt>`."""
        await live.serve_customer(socket, channels, token=socket.query_params.get("token"))

    @websocket("/events/{event_id:uuid}/live")
    async def event_socket(
        self, socket: WebSocket[Any, Any, Any], event_id: FromPath[UUID], channels: ChannelsDep, res: ResDep
    ) -> None:
        """Pushes `{"type": "stock", sold, held, available, status}` (a few per second at most),
        `{"type": "seats", since, version, changes: [{id, status}]}` (seated events: the seats
        changed from map version `since` to `version`) and `{"type": "purchase", buyer, at}`.
        Public."""
        await live.serve_event(socket, channels, res, event_id=event_id)


class PurchaseController(Controller):
    path = "/api/purchases"

    @get(
        "/",
        operation_id="listRecentPurchases",
        tags=["live"],
        summary="Recent purchases for the public feed (buyer as first name and initial)",
    )
    async def list_recent_purchases(
        self,
        conn: ConnDep,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        event_id: FromQuery[str | None] = None,
    ) -> list[RecentPurchase]:
        eid = parse_uuid(event_id, field="event_id") if event_id is not None else None
        return await live.list_recent_purchases(conn, limit=limit, event_id=eid)


route_handlers: list[ControllerRouterHandler] = [LiveController, PurchaseController]

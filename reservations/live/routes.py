"""Routes: the live WebSockets (API.md section 2, "Orders" and "Live and public")."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, ResDep
from core.errors import error_responses
from core.schemas import parse_uuid
from core.wstickets import caller_of, issue_ws_ticket
from reservations.live import service as live
from reservations.live.schemas import RecentPurchase, WsTicket

ChannelsDep = NamedDependency[ChannelsPlugin]


class LiveController(Controller):
    path = "/api"

    @post(
        "/ws-tickets",
        operation_id="createWsTicket",
        tags=["live"],
        status_code=201,
        responses=error_responses(401, 403),
    )
    async def create_ws_ticket(self, request: Request[Any, Any, Any], res: ResDep) -> WsTicket:
        """A one-use ticket to open a WebSocket (`/api/ws`, a queue's `/queue/ws`) with
        `?ticket=`, valid for `WS_TICKET_TTL_S` (30 s). Authorization: a customer token or a
        visitor token (a customer may add `Visitor-Token`); the organizer's gets 403."""
        ttl_s = res.settings.ws_ticket_ttl_s
        ticket = await issue_ws_ticket(res.redis, caller=caller_of(request), ttl_s=ttl_s)
        return WsTicket(ticket=ticket, expires_in_s=ttl_s)

    @websocket("/ws")
    async def customer_socket(
        self, socket: WebSocket[Any, Any, Any], channels: ChannelsDep, res: ResDep
    ) -> None:
        """Pushes `{"type": "order", order}` when an order is decided and `{"type": "hold", hold}`
        when a hold changes. Opened with `?ticket=` from `POST /api/ws-tickets` (a customer's)."""
        await live.serve_customer(socket, channels, res, ticket=socket.query_params.get("ticket"))

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

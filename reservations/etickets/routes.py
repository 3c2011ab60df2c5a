"""Routes: a customer's e-tickets, their QR code and printable page."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, MediaType, Response, get
from litestar.params import FromPath, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep
from core.errors import error_responses
from core.schemas import check_no_nul
from reservations.etickets import render
from reservations.etickets import service as etickets
from reservations.etickets.schemas import ETicket, EventPurchases
from reservations.events.routes import organizer_only

_PRIVATE = {"Cache-Control": "private, no-store"}


class TicketController(Controller):
    path = "/api/tickets"

    @get("/", tags=["tickets"], operation_id="listMyTickets", summary="The caller's e-tickets (customer)")
    async def list_tickets(self, conn: ConnDep, principal: PrincipalDep) -> list[ETicket]:
        return await etickets.list_etickets(conn, principal=principal)

    @get(
        "/{ticket_id:uuid}",
        operation_id="getTicket",
        tags=["tickets"],
        summary="An e-ticket: event, seat, holder and its signed code (its holder or the organizer)",
        responses=error_responses(401, 404),
    )
    async def get_ticket(self, conn: ConnDep, principal: PrincipalDep, ticket_id: FromPath[UUID]) -> ETicket:
        return await etickets.get_eticket(conn, ticket_id=ticket_id, principal=principal)

    @get(
        "/{ticket_id:uuid}/qr.png",
        operation_id="getTicketQr",
        tags=["tickets"],
        summary="The e-ticket's QR code (PNG)",
        media_type="image/png",
        responses=error_responses(401, 404),
    )
    async def get_ticket_qr(
        self, conn: ConnDep, principal: PrincipalDep, ticket_id: FromPath[UUID]
    ) -> Response[bytes]:
        ticket = await etickets.get_eticket(conn, ticket_id=ticket_id, principal=principal)
        return Response(render.qr_png(ticket.code), media_type="image/png", headers=_PRIVATE)

    @get(
        "/{ticket_id:uuid}/ticket.html",
        operation_id="getTicketPage",
        tags=["tickets"],
        summary="The e-ticket as a printable page",
        media_type=MediaType.HTML,
        responses=error_responses(401, 404),
    )
    async def get_ticket_page(
        self, conn: ConnDep, principal: PrincipalDep, ticket_id: FromPath[UUID]
    ) -> Response[str]:
        ticket = await etickets.get_eticket(conn, ticket_id=ticket_id, principal=principal)
        return Response(render.ticket_page(ticket), media_type=MediaType.HTML, headers=_PRIVATE)


class EventPurchaseController(Controller):
    path = "/api/events/{event_id:uuid}/purchases"

    @get(
        "/",
        guards=[organizer_only],
        operation_id="listEventPurchases",
        tags=["refunds"],
        summary="An event's purchases, newest first, searchable by buyer email or name, e-ticket id "
        "or ticket code, paginated (organizer); each is refunded with POST /api/tickets/{id}/refund",
        responses=error_responses(400, 401, 403, 404),
    )
    async def list_event_purchases(
        self,
        conn: ConnDep,
        event_id: FromPath[UUID],
        q: Annotated[
            str | None,
            QueryParameter(
                description="part of the buyer's email or name, an e-ticket id, or a ticket code (CP2.…)",
                max_length=2000,
            ),
        ] = None,
        page: Annotated[int, QueryParameter(ge=1, le=100_000, description="1 is the newest")] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> EventPurchases:
        if q is not None:
            check_no_nul(q, field="q")
        return await etickets.list_event_purchases(conn, event_id=event_id, q=q, page=page, limit=limit)


route_handlers: list[ControllerRouterHandler] = [TicketController, EventPurchaseController]

"""Routes: a customer's e-tickets, their QR code and printable page."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, MediaType, Response, get
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep
from core.errors import error_responses
from reservations.etickets import render
from reservations.etickets import service as etickets
from reservations.etickets.schemas import ETicket

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


route_handlers: list[ControllerRouterHandler] = [TicketController]

"""Routes: refund an e-ticket (its buyer within the policy, or the organizer) and cancel an
event (organizer)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, post
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep, RedisDep, ResDep
from core.errors import error_responses
from reservations.events.routes import organizer_only
from reservations.refunds import service as refunds
from reservations.refunds.schemas import EventCancelled, Refund


class RefundController(Controller):
    path = "/api/tickets/{ticket_id:uuid}/refund"

    @post(
        "/",
        status_code=200,
        operation_id="refundTicket",
        tags=["refunds"],
        summary="Refund an e-ticket: its buyer within the organizer's policy (fee kept), "
        "or the organizer, in full. The ticket goes back on sale. Idempotent.",
        responses=error_responses(401, 404, 409, 502),
    )
    async def refund_ticket(self, res: ResDep, principal: PrincipalDep, ticket_id: FromPath[UUID]) -> Refund:
        return await refunds.refund_purchase(
            res.pool, res.redis, http=res.http, ticket_id=ticket_id, principal=principal
        )


class EventCancellationController(Controller):
    path = "/api/events/{event_id:uuid}/cancel"

    @post(
        "/",
        guards=[organizer_only],
        status_code=202,
        operation_id="cancelEvent",
        tags=["refunds"],
        summary="Cancel an event (organizer): sales close, every purchase is refunded by a job "
        "and every holder is told by email",
        responses=error_responses(401, 403, 404),
    )
    async def cancel_event(self, conn: ConnDep, redis: RedisDep, event_id: FromPath[UUID]) -> EventCancelled:
        return await refunds.cancel_event(conn, redis, event_id=event_id)


route_handlers: list[ControllerRouterHandler] = [RefundController, EventCancellationController]

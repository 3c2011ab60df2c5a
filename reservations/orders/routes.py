"""Routes: asynchronous orders (API.md section 2, "Orders")."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.types import ControllerRouterHandler

from core.addresses import client_address
from core.deps import ConnDep, PrincipalDep, RedisDep
from core.errors import ErrorBody, error_responses
from core.logs import request_id
from core.schemas import StrictBody
from reservations.orders import service as orders
from reservations.orders.schemas import Order, OrderAccepted, OrderCreate

# The order route's own wording where the shared error's default speaks of holds.
_DETAILS = {
    "admission_required": "This event sells through its waiting room: join the queue and hold tickets there.",
}
# Refusals are most of a flash sale's answers: each body is encoded once (this route and
# its thin ASGI twin, fast_route.py, answer with these bytes).
REFUSAL_BODIES: dict[str, bytes] = {
    error.code: msgspec.json.encode(
        ErrorBody(
            error=error.code,
            detail=_DETAILS.get(error.code, error.default_detail),
            field="ticket_type" if error.code == "unknown_ticket_type" else None,
        )
    )
    for error in orders.REFUSALS.values()
}
_accepted_enc = msgspec.json.Encoder()


def accepted_body(order: OrderAccepted) -> bytes:
    return _accepted_enc.encode(order)


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Required. Same key and body: the same 202 answer, one order. Kept at least 24 h.",
    ),
]


class OrderController(Controller):
    path = "/api/orders"

    @post(
        "/",
        operation_id="placeOrder",
        tags=["orders"],
        description=(
            "`ticket_type` (optional) buys tickets of that type only (docs/ticket-types.md): 422 "
            "`unknown_ticket_type` (field `ticket_type`) when the event has none of that name, 409 "
            "`not_on_sale` outside its window, 409 `sold_out` when its tickets are spoken for."
        ),
        dto=StrictBody[OrderCreate],
        return_dto=None,
        status_code=202,
        responses={
            202: ResponseSpec(data_container=OrderAccepted, description="Accepted; decided by the worker"),
            **error_responses(400, 401, 403, 404, 409, 422, 429, 503),
        },
    )
    async def place_order(
        self,
        data: JSONBody[OrderCreate],
        request: Request[Any, Any, Any],
        state: State,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        # The flash-sale hot path takes the resources from the app state rather than as a
        # second dependency: Litestar resolves two dependencies of one batch in a task group,
        # which cost about 15% of this route's time in the profile.
        placed = await orders.place_order(
            state.resources,
            customer_id=principal.require_customer(),
            data=data,
            idempotency_key=idempotency_key,
            request_id=request_id.get(),
            client_ip=client_address(request),
        )
        if placed.order is not None:
            return Response(
                accepted_body(placed.order),
                status_code=202,
                media_type=MediaType.JSON,
                headers={"Location": f"/api/orders/{placed.order.id}"},
            )
        assert placed.refusal is not None
        refusal = placed.refusal
        return Response(
            REFUSAL_BODIES[refusal.code], status_code=refusal.status_code, media_type=MediaType.JSON
        )

    @get(
        "/{order_id:uuid}",
        operation_id="getOrder",
        tags=["orders"],
        responses=error_responses(401, 403, 404),
    )
    async def get_order(
        self, order_id: FromPath[UUID], conn: ConnDep, redis: RedisDep, principal: PrincipalDep
    ) -> Order:
        return await orders.get_order(conn, redis, order_id=order_id, principal=principal)


route_handlers: list[ControllerRouterHandler] = [OrderController]

"""Routes: holds (API.md section 2)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep, RedisDep, ResDep
from core.errors import error_responses
from core.schemas import StrictBody
from reservations.holds import confirm
from reservations.holds import service as holds
from reservations.holds.schemas import Hold, HoldConfirm, HoldConfirmed, HoldCreate

AdmissionToken = Annotated[
    str | None,
    HeaderParameter(name="Admission-Token", description="Required when the event has a waiting room."),
]
VisitorToken = Annotated[
    str | None,
    HeaderParameter(
        name="Visitor-Token", description="The anonymous visitor the admission names (waiting room)."
    ),
]
OptionalIdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", description="Optional. Same key and body, same hold."),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", description="Required. Same key and body, same answer."),
]


class HoldController(Controller):
    path = "/api"

    @post(
        "/events/{event_id:uuid}/holds",
        operation_id="createHold",
        tags=["holds"],
        summary="Hold tickets: a quantity (of one ticket type, when named) or named seats",
        description=(
            "`ticket_type` names one of the event's ticket types (docs/ticket-types.md): 422 "
            "`unknown_ticket_type` when it has none of that name, 422 `ticket_type_mismatch` when a "
            "named seat is of another type, 409 `not_on_sale` outside the type's window, 409 "
            "`limit_reached` over the type's own limit. Omitted: any type on sale now."
        ),
        dto=StrictBody[HoldCreate],
        return_dto=None,
        status_code=201,
        responses=error_responses(400, 401, 403, 404, 409, 422, 429),
    )
    async def create_hold(
        self,
        event_id: FromPath[UUID],
        data: JSONBody[HoldCreate],
        conn: ConnDep,
        redis: RedisDep,
        principal: PrincipalDep,
        admission_token: AdmissionToken = None,
        visitor_token: VisitorToken = None,
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> Hold:
        return await holds.hold_tickets(
            conn,
            redis,
            event_id=event_id,
            customer_id=principal.require_customer(),
            request=data,
            admission_token=admission_token,
            visitor_token=visitor_token,
            idempotency_key=idempotency_key,
        )

    @get(
        "/holds",
        operation_id="listHolds",
        tags=["holds"],
        summary="The signed-in customer's holds, newest first",
        description=(
            "Active and ended holds (not the ones asynchronous orders reserve under), newest"
            " first, `limit` per page. The `X-Next-Cursor` header, when present, is the `cursor`"
            " of the next page."
        ),
        responses=error_responses(400, 401, 403),
        response_headers=[
            ResponseHeader(
                name="X-Next-Cursor",
                documentation_only=True,
                description="The `cursor` of the next page; absent on the last page.",
            )
        ],
    )
    async def list_holds(
        self,
        conn: ConnDep,
        principal: PrincipalDep,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Response[list[Hold]]:
        page = await holds.list_holds(
            conn, customer_id=principal.require_customer(), limit=limit, cursor=cursor
        )
        headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
        return Response(content=page.holds, headers=headers)

    @get(
        "/holds/{hold_id:uuid}",
        operation_id="getHold",
        tags=["holds"],
        responses=error_responses(401, 403, 404),
    )
    async def get_hold(self, hold_id: FromPath[UUID], conn: ConnDep, principal: PrincipalDep) -> Hold:
        return await holds.get_hold(conn, hold_id=hold_id, principal=principal)

    @delete(
        "/holds/{hold_id:uuid}",
        operation_id="cancelHold",
        tags=["holds"],
        status_code=204,
        responses=error_responses(401, 403, 404, 409, 503),
    )
    async def cancel_hold(
        self, hold_id: FromPath[UUID], conn: ConnDep, redis: RedisDep, principal: PrincipalDep
    ) -> None:
        await holds.cancel_hold(conn, redis, hold_id=hold_id, principal=principal)

    @post(
        "/holds/{hold_id:uuid}/extend",
        operation_id="extendHold",
        tags=["holds"],
        status_code=200,
        summary="Give an active hold more time, once",
        responses=error_responses(401, 403, 404, 409),
    )
    async def extend_hold(
        self, hold_id: FromPath[UUID], conn: ConnDep, redis: RedisDep, principal: PrincipalDep
    ) -> Hold:
        return await holds.extend_hold(conn, redis, hold_id=hold_id, principal=principal)

    @post(
        "/holds/{hold_id:uuid}/confirm",
        operation_id="confirmHold",
        tags=["holds"],
        dto=StrictBody[HoldConfirm],
        return_dto=None,
        status_code=200,
        responses={
            200: ResponseSpec(data_container=HoldConfirmed, description="Paid; the tickets are bought."),
            **error_responses(400, 401, 402, 403, 404, 409, 410, 422, 502, 503),
        },
    )
    async def confirm_hold(
        self,
        hold_id: FromPath[UUID],
        data: JSONBody[HoldConfirm],
        res: ResDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey = None,
    ) -> HoldConfirmed:
        # The pool, not a request-long connection: none is held while the payment is charged.
        return await confirm.confirm_hold(
            res.pool,
            res.redis,
            http=res.http,
            hold_id=hold_id,
            principal=principal,
            payment_method=data.payment_method,
            idempotency_key=idempotency_key,
            breaker=res.breaker,
        )


route_handlers: list[ControllerRouterHandler] = [HoldController]

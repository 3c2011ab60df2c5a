"""Routes: holds (API.md section 2)."""

from __future__ import annotations

from typing import Annotated

from litestar import MediaType, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep, RedisDep, ResDep
from core.errors import error_responses
from core.schemas import StrictBody, parse_uuid
from reservations.schemas.holds import Hold, HoldConfirm, HoldConfirmed, HoldCreate
from reservations.service import holds
from waitingroom.service import require_admission

AdmissionToken = Annotated[
    str | None,
    HeaderParameter(name="Admission-Token", description="Required when the event has a waiting room."),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", description="Required. Same key and body, same answer."),
]


@post(
    "/api/events/{event_id:str}/holds",
    operation_id="createHold",
    tags=["holds"],
    dto=StrictBody[HoldCreate],
    return_dto=None,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409),
)
async def create_hold(
    event_id: FromPath[str],
    data: JSONBody[HoldCreate],
    conn: ConnDep,
    redis: RedisDep,
    principal: PrincipalDep,
    admission_token: AdmissionToken = None,
) -> Hold:
    await require_admission(
        conn,
        redis,
        event_id=parse_uuid(event_id, field="event_id"),
        customer_id=principal.require_customer(),
        token=admission_token,
    )
    return await holds.hold_tickets(
        conn,
        redis,
        event_id=parse_uuid(event_id, field="event_id"),
        customer_id=principal.require_customer(),
        quantity=data.quantity,
        seat_ids=data.seat_ids,
        half_price=data.half_price,
    )


@get(
    "/api/holds/{hold_id:str}",
    operation_id="getHold",
    tags=["holds"],
    responses=error_responses(401, 403, 404),
)
async def get_hold(hold_id: FromPath[str], conn: ConnDep, principal: PrincipalDep) -> Hold:
    return await holds.get_hold(conn, hold_id=parse_uuid(hold_id, field="hold_id"), principal=principal)


@delete(
    "/api/holds/{hold_id:str}",
    operation_id="cancelHold",
    tags=["holds"],
    status_code=204,
    responses=error_responses(401, 403, 404, 409),
)
async def cancel_hold(
    hold_id: FromPath[str], conn: ConnDep, redis: RedisDep, principal: PrincipalDep
) -> None:
    await holds.cancel_hold(conn, redis, hold_id=parse_uuid(hold_id, field="hold_id"), principal=principal)


@post(
    "/api/holds/{hold_id:str}/confirm",
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
    hold_id: FromPath[str],
    data: JSONBody[HoldConfirm],
    conn: ConnDep,
    res: ResDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response[bytes]:
    reply = await holds.confirm_hold(
        conn,
        res.redis,
        http=res.http,
        hold_id=parse_uuid(hold_id, field="hold_id"),
        principal=principal,
        card_number=data.card_number,
        idempotency_key=idempotency_key,
    )
    return Response(reply.body, status_code=reply.status, media_type=MediaType.JSON)


route_handlers: list[ControllerRouterHandler] = [create_hold, get_hold, cancel_hold, confirm_hold]

"""Routes: presale and discount codes of an event (docs/codes.md). The organizer creates,
lists and changes them; a buyer checks one before holding (rate-limited per address)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep, RedisDep
from core.errors import error_responses
from core.schemas import StrictBody
from reservations.codes import service as codes
from reservations.codes.schemas import CodeApply, CodeCheck, CodeCreate, CodePatch, CodeView
from reservations.events.routes import organizer_only
from reservations.holds import coded
from reservations.holds.schemas import Hold
from reservations.limits import limit_code_checks

CodePath = Annotated[
    str, PathParameter(min_length=1, max_length=64, description="The code; case is ignored.")
]


class CodeController(Controller):
    path = "/api/events/{event_id:uuid}/codes"

    @post(
        "/",
        guards=[organizer_only],
        dto=StrictBody[CodeCreate],
        return_dto=None,
        status_code=201,
        operation_id="createCode",
        tags=["codes"],
        summary="Create a presale (access) or discount code (organizer)",
        responses=error_responses(400, 401, 403, 404, 409),
    )
    async def create_code(
        self, conn: ConnDep, event_id: FromPath[UUID], data: JSONBody[CodeCreate]
    ) -> CodeView:
        return await codes.create_code(conn, event_id=event_id, data=data)

    @get(
        "/",
        guards=[organizer_only],
        operation_id="listCodes",
        tags=["codes"],
        summary="The event's codes with uses, uses in flight, revenue and discount given (organizer)",
        responses=error_responses(401, 403, 404),
    )
    async def list_codes(self, conn: ConnDep, event_id: FromPath[UUID]) -> list[CodeView]:
        return await codes.list_codes(conn, event_id=event_id)

    @patch(
        "/{code:str}",
        guards=[organizer_only],
        dto=StrictBody[CodePatch],
        return_dto=None,
        operation_id="updateCode",
        tags=["codes"],
        summary="Switch a code off or on, change its usage limit or validity window (organizer)",
        responses=error_responses(400, 401, 403, 404),
    )
    async def update_code(
        self, conn: ConnDep, event_id: FromPath[UUID], code: CodePath, data: JSONBody[CodePatch]
    ) -> CodeView:
        return await codes.update_code(conn, event_id=event_id, code=code, patch=data)

    @get(
        "/{code:str}/check",
        guards=[limit_code_checks],
        operation_id="checkCode",
        tags=["codes"],
        summary="Whether a code is usable now and what it does (public, rate-limited per address)",
        responses=error_responses(400, 409, 422, 429),
    )
    async def check_code(self, conn: ConnDep, event_id: FromPath[UUID], code: CodePath) -> CodeCheck:
        return await codes.check_code(conn, event_id=event_id, code=code)


class HoldCodeController(Controller):
    path = "/api/holds/{hold_id:uuid}/code"

    @post(
        "/",
        dto=StrictBody[CodeApply],
        return_dto=None,
        status_code=200,
        operation_id="applyHoldCode",
        tags=["codes", "holds"],
        summary="Apply a discount code to the caller's active hold (the checkout), before paying",
        responses=error_responses(400, 401, 403, 404, 409, 422, 429),
    )
    async def apply_code(
        self,
        hold_id: FromPath[UUID],
        data: JSONBody[CodeApply],
        conn: ConnDep,
        redis: RedisDep,
        principal: PrincipalDep,
    ) -> Hold:
        return await coded.apply_code(conn, redis, hold_id=hold_id, principal=principal, code=data.code)


route_handlers: list[ControllerRouterHandler] = [CodeController, HoldCodeController]

"""Routes: the waitlist (API.md, "Waitlist")."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.types import ControllerRouterHandler

from core.auth import Principal, bearer, principal_from_token, visitor_from_token
from core.deps import ConnDep, PrincipalDep, RedisDep
from core.errors import Unauthorized, error_responses
from core.schemas import StrictBody
from reservations.limits import limit_waitlist_joins
from reservations.waitlist import service
from reservations.waitlist.schemas import (
    Waitlist,
    WaitlistEntry,
    WaitlistJoin,
    WaitlistSettings,
    WaitlistState,
)

WaitlistToken = Annotated[
    str | None,
    HeaderParameter(
        name="Waitlist-Token",
        description="The `entry_token` the join gave: reads or leaves the entry without an account.",
        max_length=2000,
    ),
]


def _caller(request: Request[Any, Any, Any]) -> tuple[Principal, UUID | None]:
    """The caller, who may be anonymous: (customer or nobody, the waiting room visitor a
    visitor token names). A bad token is a 401, as everywhere."""
    token = bearer(request)
    if not token:
        return Principal(customer_id=None), None
    try:
        return principal_from_token(token), None
    except Unauthorized:
        return Principal(customer_id=None), visitor_from_token(token)


class WaitlistController(Controller):
    path = "/api/events/{event_id:uuid}/waitlist"
    tags = ["waitlist"]  # noqa: RUF012

    @post(
        "/",
        operation_id="joinWaitlist",
        summary="Join a sold-out event's waitlist",
        description=(
            "With a customer token, or anonymously (or with a waiting room visitor token) giving"
            " `email`. 201 with the new entry and its `entry_token`; 200 with the open entry when"
            " this customer or address is on the list already. 409 `waitlist_not_sold_out` while"
            " tickets of the type are on sale, 409 `waitlist_closed` when the organizer turned it off."
        ),
        dto=StrictBody[WaitlistJoin],
        return_dto=None,
        status_code=201,
        guards=[limit_waitlist_joins],
        responses={
            200: ResponseSpec(
                data_container=WaitlistEntry, description="Already on the list: the open entry."
            ),
            **error_responses(400, 401, 404, 409, 429),
        },
    )
    async def join(
        self,
        event_id: FromPath[UUID],
        data: JSONBody[WaitlistJoin],
        request: Request[Any, Any, Any],
        conn: ConnDep,
        redis: RedisDep,
    ) -> Response[WaitlistEntry]:
        principal, visitor_id = _caller(request)
        if principal.is_admin:
            principal = Principal(customer_id=None)
        entry, created = await service.join_waitlist(
            conn, redis, event_id=event_id, principal=principal, request=data, visitor_id=visitor_id
        )
        return Response(content=entry, status_code=201 if created else 200)

    @get(
        "/me",
        operation_id="getWaitlistEntry",
        summary="The caller's waitlist entry: its place, or its offer",
        description="By customer token, or by the `Waitlist-Token` header (the join's `entry_token`).",
        responses=error_responses(401, 403, 404),
    )
    async def get_entry(
        self,
        event_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        conn: ConnDep,
        waitlist_token: WaitlistToken = None,
    ) -> WaitlistEntry:
        principal, _ = _caller(request)
        return await service.get_entry(
            conn, event_id=event_id, principal=principal, entry_token=waitlist_token
        )

    @delete(
        "/me",
        operation_id="leaveWaitlist",
        summary="Leave the waitlist (an offer goes to the next in line)",
        status_code=204,
        responses=error_responses(401, 403, 404),
    )
    async def leave(
        self,
        event_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        conn: ConnDep,
        redis: RedisDep,
        waitlist_token: WaitlistToken = None,
    ) -> None:
        principal, _ = _caller(request)
        await service.leave_waitlist(
            conn, redis, event_id=event_id, principal=principal, entry_token=waitlist_token
        )

    @get(
        "/",
        operation_id="listWaitlist",
        summary="The event's waitlist (organizer)",
        description="Counts, and the entries: open ones in line order first, then ended ones.",
        responses=error_responses(401, 403, 404),
    )
    async def list_entries(
        self, event_id: FromPath[UUID], conn: ConnDep, principal: PrincipalDep
    ) -> Waitlist:
        principal.require_admin()
        return await service.list_waitlist(conn, event_id=event_id)

    @put(
        "/settings",
        operation_id="setWaitlist",
        summary="Turn the event's waitlist on or off (organizer)",
        description=(
            "Off: no joins and no new offers; kept tickets no offer holds go on sale to everyone;"
            " offers already made stay valid until they expire."
        ),
        dto=StrictBody[WaitlistSettings],
        return_dto=None,
        status_code=200,
        responses=error_responses(400, 401, 403, 404),
    )
    async def set_waitlist(
        self,
        event_id: FromPath[UUID],
        data: JSONBody[WaitlistSettings],
        conn: ConnDep,
        redis: RedisDep,
        principal: PrincipalDep,
    ) -> WaitlistState:
        principal.require_admin()
        return await service.set_waitlist(conn, redis, event_id=event_id, enabled=data.enabled)


route_handlers: list[ControllerRouterHandler] = [WaitlistController]

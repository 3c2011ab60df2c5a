"""Routes: scans at the door (door staff of the event, or the organizer), door-staff tokens
and the door kit for offline checking."""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from core import auth
from core.config import get_settings
from core.deps import ConnDep
from core.errors import BadRequest, Unauthorized, error_responses
from core.schemas import StrictBody
from reservations.checkin import service as checkin
from reservations.checkin.schemas import (
    Checkin,
    CheckinCreate,
    DoorKit,
    DoorToken,
    DoorTokenCreate,
    OfflineScans,
    OfflineScansCreate,
)
from reservations.events.routes import organizer_only
from reservations.events.schemas import parse_instant


def _door(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The door of a door token for the path's event; None for the organizer."""
    token = auth.bearer(connection)
    if not token:
        raise Unauthorized()
    if hmac.compare_digest(token.encode(), get_settings().admin_token.encode()):
        return None
    return auth.door_of(token, event_id=connection.path_params["event_id"])


def _scanning_door(connection: ASGIConnection[Any, Any, Any, Any], named: str | None) -> str:
    """The door a scan is made at: a door token's own, else the one the organizer names."""
    door = _door(connection) or named
    if door is None:
        raise BadRequest("The organizer names the door.", field="door")
    return door


def door_staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: a door token of this event, or the organizer token."""
    _door(connection)


class CheckinController(Controller):
    path = "/api/events/{event_id:uuid}"

    @post(
        "/checkins",
        guards=[door_staff_only],
        dto=StrictBody[CheckinCreate],
        return_dto=None,
        status_code=200,
        operation_id="checkIn",
        tags=["check-in"],
        summary="Scan a ticket at a door: admitted, already_checked_in, refunded, wrong_event or forged",
        responses=error_responses(400, 401, 403),
    )
    async def check_in(
        self,
        conn: ConnDep,
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        data: JSONBody[CheckinCreate],
    ) -> Checkin:
        door = _scanning_door(request, data.door)
        return await checkin.check_in(conn, event_id=event_id, code=data.code, door=door)

    @post(
        "/checkins/offline",
        guards=[door_staff_only],
        dto=StrictBody[OfflineScansCreate],
        return_dto=None,
        status_code=200,
        operation_id="uploadOfflineCheckins",
        tags=["check-in"],
        summary="Upload scans a door made without network: the earliest scan of a ticket wins, "
        "later ones answer already_checked_in",
        responses=error_responses(400, 401, 403, 404),
    )
    async def upload_offline_checkins(
        self,
        conn: ConnDep,
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        data: JSONBody[OfflineScansCreate],
    ) -> OfflineScans:
        door = _scanning_door(request, data.door)
        return await checkin.check_in_offline(conn, event_id=event_id, scans=data.scans, door=door)

    @post(
        "/door-tokens",
        guards=[organizer_only],
        dto=StrictBody[DoorTokenCreate],
        return_dto=None,
        status_code=201,
        operation_id="createDoorToken",
        tags=["check-in"],
        summary="Mint a door-staff token for this event (organizer)",
        responses=error_responses(400, 401, 403, 404),
    )
    async def create_door_token(
        self, conn: ConnDep, event_id: FromPath[UUID], data: JSONBody[DoorTokenCreate]
    ) -> DoorToken:
        return await checkin.mint_door_token(conn, event_id=event_id, door=data.door, ttl_s=data.ttl_s)

    @get(
        "/door-kit",
        guards=[door_staff_only],
        operation_id="getDoorKit",
        tags=["check-in"],
        summary="The event's public code key and revoked e-tickets, for checking offline (door staff)",
        responses=error_responses(401, 403, 404),
    )
    async def get_door_kit(
        self,
        conn: ConnDep,
        event_id: FromPath[UUID],
        since: Annotated[
            str | None,
            QueryParameter(description="the previous kit's `as_of` (ISO 8601 date-time)", max_length=40),
        ] = None,
    ) -> DoorKit:
        # Read as text and parsed here: msgspec would take a bare number for a Unix time.
        after = parse_instant(since, field="since")[0] if since is not None else None
        return await checkin.door_kit(conn, event_id=event_id, since=after)


route_handlers: list[ControllerRouterHandler] = [CheckinController]

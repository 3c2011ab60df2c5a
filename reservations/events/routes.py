"""Routes: events (create: organizer; read: public) and their seat map."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from core import auth
from core.deps import ConnDep, RedisDep
from core.errors import Unauthorized, error_responses
from core.openapi import answers
from core.schemas import StrictBody, check_no_nul
from reservations.events import management
from reservations.events import service as events
from reservations.events.management import EventPatch
from reservations.events.schemas import EventCreate, EventStatus, EventView, Seat, parse_instant
from reservations.limits import limit_event_creation


@answers(401, 403)
def organizer_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: runs before the body is read, so an anonymous caller learns nothing from it."""
    token = auth.bearer(connection)
    if not token:
        raise Unauthorized()
    auth.principal_from_token(token).require_admin()


class EventController(Controller):
    path = "/api/events"

    @post(
        "/",
        guards=[organizer_only, limit_event_creation],
        dto=StrictBody[EventCreate],
        return_dto=None,
        status_code=201,
        operation_id="createEvent",
        responses=error_responses(400, 401, 403, 429),
        tags=["events"],
        summary="Create an event and its tickets (organizer)",
    )
    async def create_event(self, conn: ConnDep, redis: RedisDep, data: JSONBody[EventCreate]) -> EventView:
        return await events.create_event(conn, redis, data=data)

    @get("/", operation_id="listEvents", tags=["events"], summary="Events by start time")
    async def list_events(
        self,
        conn: ConnDep,
        status: FromQuery[EventStatus | None] = None,
        starts_from: Annotated[
            str | None, QueryParameter(name="from", description="ISO 8601 date or date-time, inclusive")
        ] = None,
        starts_to: Annotated[
            str | None, QueryParameter(name="to", description="ISO 8601 date or date-time, inclusive")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[EventView]:
        lower, upper = _window(starts_from, starts_to)
        return await events.list_events(
            conn, status=status, starts_from=lower, starts_before=upper, limit=limit
        )

    @get(
        "/{event_id:uuid}",
        operation_id="getEvent",
        tags=["events"],
        summary="An event with its live counters",
    )
    async def get_event(self, conn: ConnDep, redis: RedisDep, event_id: FromPath[UUID]) -> EventView:
        return await events.get_event_view(conn, redis, event_id=event_id)

    @patch(
        "/{event_id:uuid}",
        guards=[organizer_only],
        dto=StrictBody[EventPatch],
        return_dto=None,
        operation_id="updateEvent",
        tags=["events"],
        summary="Edit an event (organizer): name, venue, dates, limits, hold TTL, refund policy, "
        "`closed` to close sales; capacity and price only before the first hold or sale",
        responses=error_responses(400, 401, 403, 404, 409),
    )
    async def update_event(
        self, conn: ConnDep, redis: RedisDep, event_id: FromPath[UUID], data: JSONBody[EventPatch]
    ) -> EventView:
        await management.update_event(conn, redis, event_id=event_id, data=data)
        return await events.get_event_view(conn, redis, event_id=event_id)

    @get(
        "/{event_id:uuid}/seats",
        operation_id="listSeats",
        tags=["events"],
        summary="Labelled seats and their state",
    )
    async def list_seats(
        self,
        conn: ConnDep,
        event_id: FromPath[UUID],
        section: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> list[Seat]:
        if section is not None:
            check_no_nul(section, field="section")
        return await events.list_seats(conn, event_id=event_id, section=section)


def _window(starts_from: str | None, starts_to: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`from` inclusive; `to` inclusive too (a date means the whole day)."""
    lower = parse_instant(starts_from, field="from")[0] if starts_from is not None else None
    upper = None
    if starts_to is not None:
        moment, date_only = parse_instant(starts_to, field="to")
        upper = moment + (dt.timedelta(days=1) if date_only else dt.timedelta(microseconds=1))
    return lower, upper


route_handlers: list[ControllerRouterHandler] = [EventController]

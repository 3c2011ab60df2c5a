"""Routes: events (create: organizer; read: public) and their seat map."""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from core import auth
from core.deps import ConnDep, RedisDep, ResDep
from core.errors import Unauthorized, error_responses
from core.openapi import answers
from core.schemas import StrictBody, check_no_nul
from reservations.events import management, seatmap
from reservations.events import service as events
from reservations.events.management import EventPatch
from reservations.events.schemas import EventCreate, EventStatus, EventView, Seat, SeatMap, parse_instant
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
        description=(
            "General admission (`capacity` + `price_cents`) or ticket types (`sections`: each a "
            "name, a price, `capacity` or `rows` and `seats_per_row`, and optionally its own sale "
            "window and per-customer limit; docs/ticket-types.md)."
        ),
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
        description=(
            "The seat map from the event's current snapshot: `[{id, section, row, number, price_cents,"
            " status}]`, or with `format=compact` sections of rows, each with its seat numbers, ids"
            " and one status letter per seat (`a` available, `h` held, `s` sold). The `ETag` names"
            " the snapshot's version: send it back in `If-None-Match` for a 304 while nothing"
            " changed. Gzipped when the client accepts it. Kept current by the `seats` deltas of"
            " `/api/events/{id}/live`."
        ),
        responses={
            200: ResponseSpec(
                data_container=list[Seat] | SeatMap,
                description="`list[Seat]` (default) or, with `format=compact`, a `SeatMap`.",
            ),
            304: ResponseSpec(data_container=None, description="Not modified since the `ETag` sent."),
            **error_responses(400, 404),
        },
    )
    async def list_seats(
        self,
        request: Request[Any, Any, Any],
        res: ResDep,
        event_id: FromPath[UUID],
        section: Annotated[str | None, QueryParameter(max_length=100)] = None,
        seat_format: Annotated[
            seatmap.SeatFormat,
            QueryParameter(name="format", description="`list` (default) or `compact`"),
        ] = "list",
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match", max_length=1000)] = None,
    ) -> Response[bytes]:
        if section is not None:
            check_no_nul(section, field="section")
        encoded = await seatmap.seat_map(res.pool, res.redis, event_id=event_id)
        part = f"-{zlib.crc32(section.encode()):08x}" if section is not None else ""
        tag = f'"{encoded.snapshot.etag}-{seat_format}{part}"'
        headers = {"ETag": tag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if if_none_match and (if_none_match.strip() == "*" or tag in if_none_match.replace("W/", "")):
            return Response(content=b"", status_code=304, headers=headers)
        # Accept-Encoding is read, not declared: clients and proxies set it, not the caller.
        gzipped = accepts_gzip(request.headers.get("accept-encoding"))
        if section is not None:  # a part of the map: made for this request
            body = msgspec.json.encode(seatmap.seat_list(encoded.snapshot, section))
            gzipped = False
        else:
            body = encoded.body(seat_format, event_id, gzipped=gzipped)
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return Response(content=body, status_code=200, headers=headers, media_type="application/json")


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether `Accept-Encoding` allows gzip (`gzip;q=0` refuses it)."""
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _window(starts_from: str | None, starts_to: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`from` inclusive; `to` inclusive too (a date means the whole day)."""
    lower = parse_instant(starts_from, field="from")[0] if starts_from is not None else None
    upper = None
    if starts_to is not None:
        moment, date_only = parse_instant(starts_to, field="to")
        upper = moment + (dt.timedelta(days=1) if date_only else dt.timedelta(microseconds=1))
    return lower, upper


route_handlers: list[ControllerRouterHandler] = [EventController]

"""Routes: the organizer's sales report of an event (the edit, `PATCH /api/events/{id}`, is
in routes.py: one path, one controller)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep
from core.errors import error_responses
from reservations.events import management
from reservations.events.management import EventReport
from reservations.events.routes import organizer_only

Interval = Annotated[Literal["hour", "day"], QueryParameter(description="bucket of `over_time`")]


class EventManagementController(Controller):
    path = "/api/events/{event_id:uuid}"
    guards = [organizer_only]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get(
        "/report",
        operation_id="getEventReport",
        tags=["events"],
        summary="Sales report (organizer): sold, held, revenue, refunds, check-ins, by section and over time",
        responses=error_responses(401, 403, 404),
    )
    async def get_report(
        self, conn: ConnDep, event_id: FromPath[UUID], interval: Interval = "hour"
    ) -> EventReport:
        return await management.event_report(conn, event_id=event_id, interval=interval)

    @get(
        "/report.csv",
        operation_id="getEventReportCsv",
        tags=["events"],
        summary="The sales report as CSV (organizer)",
        media_type="text/csv",
        responses=error_responses(401, 403, 404),
    )
    async def get_report_csv(
        self, conn: ConnDep, event_id: FromPath[UUID], interval: Interval = "hour"
    ) -> Response[str]:
        report = await management.event_report(conn, event_id=event_id, interval=interval)
        return Response(
            management.report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="report-{event_id}.csv"'},
        )


route_handlers: list[ControllerRouterHandler] = [EventManagementController]

"""Routes: the organizer's operations view (API.md section 2, "Operations")."""

from __future__ import annotations

from litestar import Controller, get
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep, RedisDep
from core.errors import error_responses
from reservations.admin import service as monitor
from reservations.admin.schemas import JobsOverview


class JobController(Controller):
    path = "/api/admin/jobs"

    @get(
        "/",
        operation_id="getJobs",
        tags=["operations"],
        responses=error_responses(401, 403),
    )
    async def get_jobs(self, conn: ConnDep, redis: RedisDep, principal: PrincipalDep) -> JobsOverview:
        """Queues, running and recent jobs with timings, failures, cron runs, holds about to
        expire and the last invariant check."""
        principal.require_admin()
        return await monitor.jobs_overview(conn, redis)


route_handlers: list[ControllerRouterHandler] = [JobController]

"""Routes: the organizer's operations view (API.md section 2, "Operations")."""

from __future__ import annotations

from litestar import get
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep, RedisDep
from core.errors import ErrorBody
from reservations.schemas.admin import JobsOverview
from reservations.service import monitor


@get(
    "/api/admin/jobs",
    operation_id="getJobs",
    tags=["operations"],
    responses={c: ResponseSpec(data_container=ErrorBody, description="Error") for c in (401, 403)},
)
async def get_jobs(conn: ConnDep, redis: RedisDep, principal: PrincipalDep) -> JobsOverview:
    """Queues, running and recent jobs with timings, failures, cron runs, holds about to
    expire and the last invariant check."""
    principal.require_admin()
    return await monitor.jobs_overview(conn, redis)


route_handlers: list[ControllerRouterHandler] = [get_jobs]

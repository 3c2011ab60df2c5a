"""Routes: the public feed of recent purchases."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import FromQuery, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep
from core.schemas import parse_uuid
from reservations.schemas.purchases import RecentPurchase
from reservations.service import purchases


@get(
    "/api/purchases",
    operation_id="listRecentPurchases",
    tags=["live"],
    summary="Recent purchases for the public feed (buyer as first name and initial)",
)
async def list_recent_purchases(
    conn: ConnDep,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    event_id: FromQuery[str | None] = None,
) -> list[RecentPurchase]:
    eid = parse_uuid(event_id, field="event_id") if event_id is not None else None
    return await purchases.list_recent_purchases(conn, limit=limit, event_id=eid)


route_handlers: list[ControllerRouterHandler] = [list_recent_purchases]

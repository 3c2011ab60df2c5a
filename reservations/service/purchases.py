"""The public feed of recent purchases; buyers are shown as first name and initial."""

from __future__ import annotations

import uuid

from core.db import Connection
from reservations.queries import Q
from reservations.schemas.purchases import RecentPurchase


def buyer_label(name: str) -> str:
    """ "Maria Silva Santos" → "Maria S."; a single name stays as it is."""
    parts = name.split()
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0].upper()}."


async def list_recent_purchases(
    conn: Connection, *, limit: int = 20, event_id: uuid.UUID | None = None
) -> list[RecentPurchase]:
    return [
        RecentPurchase(
            id=r["id"],
            event_id=r["event_id"],
            event_name=r["event_name"],
            buyer=buyer_label(r["buyer_name"]),
            at=r["created_at"],
        )
        for r in await conn.fetch(Q.list_recent_purchases, limit, event_id)
    ]

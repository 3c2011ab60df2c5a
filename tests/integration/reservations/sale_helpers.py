"""Buying through the real API, for the after-sale tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from core.auth import issue_customer_token
from core.resources import Resources
from tests.factories import make_customer, make_event

PM_OK = "pm_card_visa"


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def admin(res: Resources) -> dict[str, str]:
    return {"Authorization": f"Bearer {res.settings.admin_token}"}


async def new_event(res: Resources, **event: Any) -> uuid.UUID:
    async with res.pool.acquire() as conn:
        return await make_event(conn, **event)


async def new_customer(res: Resources, name: str | None = None) -> uuid.UUID:
    async with res.pool.acquire() as conn:
        return await make_customer(conn, name=name)


async def buy(
    client: httpx.AsyncClient, event_id: uuid.UUID, customer_id: uuid.UUID, quantity: int = 1
) -> list[dict[str, Any]]:
    """Hold and confirm (paid through the stub); the purchases."""
    r = await client.post(
        f"/api/events/{event_id}/holds", json={"quantity": quantity}, headers=auth(customer_id)
    )
    assert r.status_code == 201, r.text
    hold_id = r.json()["id"]
    r = await client.post(
        f"/api/holds/{hold_id}/confirm",
        json={"payment_method": PM_OK},
        headers={**auth(customer_id), "Idempotency-Key": f"buy-{hold_id}"},
    )
    assert r.status_code == 200, r.text
    purchases: list[dict[str, Any]] = r.json()["purchases"]
    return purchases


async def charge_of(res: Resources, purchase_id: str) -> dict[str, Any]:
    """The provider's charge that paid for a purchase."""
    charge_id = await res.pool.fetchval(
        "SELECT h.payment_id FROM purchases p JOIN holds h ON h.id = p.hold_id WHERE p.id = $1",
        uuid.UUID(purchase_id),
    )
    r = await res.http.get(f"/v1/charges/{charge_id}")
    assert r.status_code == 200, r.text
    charge: dict[str, Any] = r.json()
    return charge


async def ticket_counts(res: Resources, event_id: uuid.UUID) -> dict[str, int]:
    rows = await res.pool.fetch(
        "SELECT status, count(*) AS n FROM tickets WHERE event_id = $1 GROUP BY status", event_id
    )
    return {r["status"]: r["n"] for r in rows}

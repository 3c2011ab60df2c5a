"""Shared by the order tests: tokens, placing orders, waiting for decisions."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import httpx

from core.auth import issue_customer_token
from core.db import Pool

PM_OK = "pm_card_visa"
PM_DECLINED = "pm_card_chargeDeclined"


def client_address(customer_id: uuid.UUID) -> str:
    """A client address of its own for a customer: a flash sale comes from many addresses,
    and the gate limits orders per address."""
    return "10.{}.{}.{}".format(*customer_id.bytes[:3])


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def order_body(event_id: uuid.UUID, *, quantity: int | None = None, card: str = PM_OK) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": str(event_id), "payment_method": card}
    if quantity is not None:
        body["quantity"] = quantity
    return body


async def post_order(
    client: httpx.AsyncClient,
    customer_id: uuid.UUID,
    event_id: uuid.UUID,
    *,
    key: str | None = None,
    quantity: int | None = None,
    card: str = PM_OK,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    h = auth(customer_id) | {"Idempotency-Key": key or uuid.uuid4().hex} | (headers or {})
    return await client.post(
        "/api/orders", json=order_body(event_id, quantity=quantity, card=card), headers=h
    )


async def wait_decided(
    pool: Pool, order_ids: list[uuid.UUID], *, timeout_s: float = 20.0
) -> dict[uuid.UUID, Any]:
    """Poll PostgreSQL until every order is decided; returns id -> row (status, reason)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await pool.fetch(
            "SELECT id, status, reason, payment_id, hold_id FROM orders"
            " WHERE id = ANY($1) AND status <> 'queued'",
            order_ids,
        )
        if len(rows) == len(set(order_ids)):
            return {r["id"]: r for r in rows}
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(set(order_ids)) - len(rows)} of {len(set(order_ids))} orders undecided"
            )
        await asyncio.sleep(0.05)


async def wait_idle(redis: Any, *, timeout_s: float = 10.0) -> None:
    """Until the orders queue is empty and every accepted order is announced: a worker
    stopped earlier would cancel jobs in the middle of their last steps."""
    from core.queues import ORDERS_QUEUE
    from reservations import keys

    deadline = time.monotonic() + timeout_s
    while await redis.xlen(ORDERS_QUEUE) or await redis.zcard(keys.orders_pending()):
        if time.monotonic() > deadline:
            raise AssertionError("the orders queue did not drain")
        await asyncio.sleep(0.02)


async def create_event(client: httpx.AsyncClient, admin_token: str, **fields: Any) -> httpx.Response:
    """POST /api/events as the organizer: a general-admission event 30 days ahead, with
    `fields` over the defaults."""
    body = {
        "name": "Flash",
        "venue": "Hall",
        "starts_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        "price_cents": 5000,
        **fields,
    }
    return await client.post("/api/events", json=body, headers={"Authorization": f"Bearer {admin_token}"})

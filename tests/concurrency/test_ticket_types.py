"""Ticket types under load (docs/ticket-types.md): 400 buyers race for the last 10 VIP
while Pista sells, through POST /api/events/{id}/holds. Every count is read back from
PostgreSQL; the control runs the same race with the claim's guards switched off and shows
the per-type check catches the oversell."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.auth import issue_customer_token
from core.config import Settings
from core.resources import Resources
from reservations import keys
from reservations.orders.reconcile import check_invariants
from tests.factories import make_customers

pytestmark = pytest.mark.concurrency

LATER = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20)).isoformat()
VIP_LEFT = 10
VIP_SOLD_BEFORE = 20
PISTA = 150
BUYERS = 400


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def outcome(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, "" if r.status_code == 201 else r.json().get("error", "")


async def by_type(res: Resources, event_id: str) -> dict[tuple[str, str], int]:
    rows = await res.pool.fetch(
        "SELECT section, status, count(*) AS n FROM tickets WHERE event_id = $1 GROUP BY 1, 2",
        uuid.UUID(event_id),
    )
    return {(r["section"], r["status"]): r["n"] for r in rows}


async def race(
    client: httpx.AsyncClient, res: Resources, settings: Settings
) -> tuple[str, list[httpx.Response]]:
    """An event of Pista (150) and VIP (30, 20 already held by earlier buyers); then 200
    buyers ask for VIP and 200 for Pista at once, one ticket each."""
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    body = {
        "name": "Festival",
        "starts_at": LATER,
        "sections": [
            {"name": "Pista", "price_cents": 10000, "capacity": PISTA},
            {"name": "VIP", "price_cents": 30000, "capacity": VIP_SOLD_BEFORE + VIP_LEFT},
        ],
    }
    r = await client.post("/api/events", json=body, headers=admin)
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]
    async with res.pool.acquire() as conn:
        early = await make_customers(conn, VIP_SOLD_BEFORE)
        buyers = await make_customers(conn, BUYERS)
    for c in early:
        r = await client.post(
            f"/api/events/{event_id}/holds", json={"quantity": 1, "ticket_type": "VIP"}, headers=auth(c)
        )
        assert r.status_code == 201
    wants = ["VIP" if i % 2 == 0 else "Pista" for i in range(BUYERS)]
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/events/{event_id}/holds", json={"quantity": 1, "ticket_type": t}, headers=auth(c)
            )
            for c, t in zip(buyers, wants, strict=True)
        )
    )
    for r, t in zip(answers, wants, strict=True):
        if r.status_code == 201:
            assert [x["section"] for x in r.json()["tickets"]] == [t]
    return event_id, answers


async def test_400_buyers_for_the_last_10_vip_while_pista_sells(
    client: httpx.AsyncClient, res: Resources, settings: Settings
) -> None:
    event_id, answers = await race(client, res, settings)
    wanted: Counter[tuple[str, tuple[int, str]]] = Counter()
    for i, r in enumerate(answers):
        wanted["VIP" if i % 2 == 0 else "Pista", outcome(r)] += 1
    assert wanted == Counter(
        {
            ("VIP", (201, "")): VIP_LEFT,
            ("VIP", (409, "sold_out")): BUYERS // 2 - VIP_LEFT,
            ("Pista", (201, "")): PISTA,
            ("Pista", (409, "sold_out")): BUYERS // 2 - PISTA,
        }
    )
    counts = await by_type(res, event_id)
    assert counts == {("VIP", "IN_PROGRESS"): VIP_SOLD_BEFORE + VIP_LEFT, ("Pista", "IN_PROGRESS"): PISTA}
    holds = await res.pool.fetch(
        "SELECT t.section, count(DISTINCT h.id) AS holds, count(t.id) AS tickets"
        " FROM holds h JOIN tickets t ON t.hold_id = h.id WHERE h.event_id = $1 GROUP BY 1",
        uuid.UUID(event_id),
    )
    assert {r["section"]: (r["holds"], r["tickets"]) for r in holds} == {
        "VIP": (VIP_SOLD_BEFORE + VIP_LEFT, VIP_SOLD_BEFORE + VIP_LEFT),
        "Pista": (PISTA, PISTA),
    }
    view = (await client.get(f"/api/events/{event_id}")).json()
    assert {t["name"]: (t["available"], t["held"]) for t in view["ticket_types"]} == {
        "VIP": (0, VIP_SOLD_BEFORE + VIP_LEFT),
        "Pista": (0, PISTA),
    }
    async with res.pool.acquire() as conn:
        check = await check_invariants(conn)
    assert check.ok, check.violations


async def test_control_unguarded_claims_oversell_a_type(
    client: httpx.AsyncClient, res: Resources, settings: Settings, without_guard: Callable[..., None]
) -> None:
    """The same race with the claim read-then-write (no SKIP LOCKED, no status guard):
    more VIP holds than VIP tickets, which the per-hold invariant check reports."""
    without_guard("claim_skip_locked", "book_only_available")
    event_id, answers = await race(client, res, settings)
    vip_wins = sum(r.status_code == 201 for i, r in enumerate(answers) if i % 2 == 0)
    wins = sum(r.status_code == 201 for r in answers)
    holds = await res.pool.fetchval("SELECT count(*) FROM holds WHERE event_id = $1", uuid.UUID(event_id))
    counts = await by_type(res, event_id)
    assert vip_wins > VIP_LEFT  # oversold: more buyers were told "yours" than VIP tickets were left
    assert (
        holds
        == VIP_SOLD_BEFORE + wins
        > counts[("VIP", "IN_PROGRESS")] + counts.get(("Pista", "IN_PROGRESS"), 0)
    )
    async with res.pool.acquire() as conn:
        check = await check_invariants(conn)
    assert not check.ok
    assert "held_tickets_match_holds" in {v["check"] for v in check.violations}


async def test_one_customer_s_burst_stays_within_the_type_limit(
    client: httpx.AsyncClient, res: Resources, settings: Settings
) -> None:
    """40 simultaneous VIP holds of one customer, VIP limited to 2 (the event to 10):
    exactly 2 VIP tickets; then Pista still sells to them up to the event's limit."""
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    body: dict[str, Any] = {
        "name": "Festival",
        "starts_at": LATER,
        "max_per_customer": 10,
        "sections": [
            {"name": "Pista", "price_cents": 10000, "capacity": 50},
            {"name": "VIP", "price_cents": 30000, "capacity": 50, "max_per_customer": 2},
        ],
    }
    event_id = (await client.post("/api/events", json=body, headers=admin)).json()["id"]
    async with res.pool.acquire() as conn:
        (me,) = await make_customers(conn, 1)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/events/{event_id}/holds", json={"quantity": 1, "ticket_type": "VIP"}, headers=auth(me)
            )
            for _ in range(40)
        )
    )
    assert Counter(outcome(r) for r in answers) == Counter({(201, ""): 2, (409, "limit_reached"): 38})
    assert (await by_type(res, event_id))[("VIP", "IN_PROGRESS")] == 2
    assert await res.pool.fetchval("SELECT taken FROM type_allowances WHERE customer_id = $1", me) == 2
    async with res.pool.acquire() as conn:
        check = await check_invariants(conn)
    assert check.ok, check.violations


async def test_400_orders_for_the_last_10_vip_while_pista_sells(
    client: httpx.AsyncClient, res: Resources, settings: Settings, orders_worker: Any, worker: Any
) -> None:
    """The same race through POST /api/orders and the orders worker: 200 VIP orders for the
    last 10 VIP, 200 Pista orders for 150 Pista. Exactly 10 VIP and 150 Pista are sold,
    each of its type, and within a type no order is refused while a later one is served."""
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    body = {
        "name": "Festival",
        "starts_at": LATER,
        "sections": [
            {"name": "Pista", "price_cents": 10000, "capacity": PISTA},
            {"name": "VIP", "price_cents": 30000, "capacity": VIP_SOLD_BEFORE + VIP_LEFT},
        ],
    }
    event_id = (await client.post("/api/events", json=body, headers=admin)).json()["id"]
    async with res.pool.acquire() as conn:
        early = await make_customers(conn, VIP_SOLD_BEFORE)
        buyers = await make_customers(conn, BUYERS)
    for c in early:
        r = await client.post(
            f"/api/events/{event_id}/holds", json={"quantity": 1, "ticket_type": "VIP"}, headers=auth(c)
        )
        assert r.status_code == 201
    # The live push (arq worker) brings the gate's VIP count down to what is left.
    deadline = asyncio.get_running_loop().time() + 10
    while await res.redis.get(keys.available_type(event_id, "VIP")) != str(VIP_LEFT).encode():
        assert asyncio.get_running_loop().time() < deadline, "the gate's VIP stock was not refreshed"
        await asyncio.sleep(0.05)
    wants = ["VIP" if i % 2 == 0 else "Pista" for i in range(BUYERS)]

    def address(c: uuid.UUID) -> str:  # a flash sale comes from many addresses
        return "10.{}.{}.{}".format(*c.bytes[:3])

    answers = await asyncio.gather(
        *(
            client.post(
                "/api/orders",
                json={"event_id": event_id, "payment_method": "pm_card_visa", "ticket_type": t},
                headers=auth(c) | {"Idempotency-Key": uuid.uuid4().hex, "X-Forwarded-For": address(c)},
            )
            for c, t in zip(buyers, wants, strict=True)
        )
    )
    assert {r.status_code for r in answers} <= {202, 409}, Counter(r.status_code for r in answers)
    accepted = [uuid.UUID(r.json()["id"]) for r in answers if r.status_code == 202]
    # The gate bounds each type by its own stock: no VIP order is accepted against Pista's.
    assert Counter((t, r.status_code) for t, r in zip(wants, answers, strict=True)) == Counter(
        {
            ("VIP", 202): VIP_LEFT,
            ("VIP", 409): BUYERS // 2 - VIP_LEFT,
            ("Pista", 202): PISTA,
            ("Pista", 409): BUYERS // 2 - PISTA,
        }
    )
    deadline = asyncio.get_running_loop().time() + 60
    while await res.pool.fetchval(
        "SELECT count(*) FROM orders WHERE id = ANY($1) AND status <> 'queued'", accepted
    ) < len(accepted):
        assert asyncio.get_running_loop().time() < deadline, "orders undecided"
        await asyncio.sleep(0.1)
    rows = await res.pool.fetch(
        "SELECT ticket_type, status, reason, seq FROM orders WHERE event_id = $1", uuid.UUID(event_id)
    )
    assert len(rows) == len(accepted)
    confirmed = Counter(r["ticket_type"] for r in rows if r["status"] == "confirmed")
    assert confirmed == Counter({"VIP": VIP_LEFT, "Pista": PISTA})
    assert {r["reason"] for r in rows if r["status"] == "rejected"} <= {"sold_out"}
    for t in ("VIP", "Pista"):
        served = [r["seq"] for r in rows if r["ticket_type"] == t and r["status"] == "confirmed"]
        refused = [r["seq"] for r in rows if r["ticket_type"] == t and r["status"] == "rejected"]
        assert not refused or min(refused) > max(served), t  # first come, first served per type
    counts = await by_type(res, event_id)
    assert counts == {
        ("VIP", "IN_PROGRESS"): VIP_SOLD_BEFORE,
        ("VIP", "BOOKED"): VIP_LEFT,
        ("Pista", "BOOKED"): PISTA,
    }
    sold = await res.pool.fetch(
        "SELECT o.ticket_type, t.section FROM purchases p JOIN orders o ON o.id = p.order_id"
        " JOIN tickets t ON t.id = p.ticket_id WHERE p.event_id = $1",
        uuid.UUID(event_id),
    )
    assert all(r["ticket_type"] == r["section"] for r in sold) and len(sold) == VIP_LEFT + PISTA
    async with res.pool.acquire() as conn:
        check = await check_invariants(conn)
    assert check.ok, check.violations

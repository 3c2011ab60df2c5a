"""Usage limits of codes under concurrency (docs/codes.md): 1,000 parallel holds for a code
limited to 100 take exactly 100 uses; uses come back on cancel, expiry and refund and are
taken again. The control runs the race with the guarded UPDATE switched off (a
read-then-write count) and shows the database check catches the overuse."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.auth import issue_customer_token
from core.resources import Resources
from reservations.holds import service as holds_service
from tests.factories import make_customers, make_event, stock_counts

pytestmark = pytest.mark.concurrency

BUSY_RETRIES = 5


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def outcome(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, "" if r.status_code in (200, 201) else r.json().get("error", "")


async def setup(
    client: httpx.AsyncClient, res: Resources, *, capacity: int, customers: int, max_uses: int
) -> Any:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=capacity, price_cents=4000)
        racers = await make_customers(conn, customers)
    r = await client.post(
        f"/api/events/{event_id}/codes",
        json={"code": "FLASH", "kind": "discount", "percent_off": 25, "max_uses": max_uses},
        headers={"Authorization": f"Bearer {res.settings.admin_token}"},
    )
    assert r.status_code == 201, r.text
    return event_id, racers


async def hold_with_code(
    client: httpx.AsyncClient, event_id: uuid.UUID, customer_id: uuid.UUID
) -> httpx.Response:
    """As the web app does: a 503 `busy` (a lock or statement past its timeout on a loaded
    machine; nothing was written) is tried again a moment later. Nothing else is retried."""
    for _ in range(BUSY_RETRIES):
        r = await client.post(
            f"/api/events/{event_id}/holds", json={"quantity": 1, "code": "flash"}, headers=auth(customer_id)
        )
        if r.status_code != 503:
            return r
        await asyncio.sleep(0.5)
    return r


async def race(
    client: httpx.AsyncClient, event_id: uuid.UUID, racers: list[uuid.UUID]
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(hold_with_code(client, event_id, c) for c in racers)))


async def db_state(res: Resources, event_id: uuid.UUID) -> dict[str, Any]:
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
        return {
            "uses": await conn.fetchval("SELECT uses FROM codes WHERE event_id = $1", event_id),
            "live_uses": await conn.fetchval(
                "SELECT count(*) FROM code_uses WHERE status IN ('held', 'confirmed')"
            ),
            "coded_holds": await conn.fetchval(
                """SELECT count(*) FROM holds h JOIN code_uses u ON u.hold_id = h.id
                   WHERE h.status IN ('active', 'confirmed') AND u.status IN ('held', 'confirmed')"""
            ),
            "active_holds": await conn.fetchval("SELECT count(*) FROM holds WHERE status = 'active'"),
            "uncoded_holds": await conn.fetchval(
                """SELECT count(*) FROM holds h
                   WHERE NOT EXISTS (SELECT 1 FROM code_uses u WHERE u.hold_id = h.id)"""
            ),
            "discounted": await conn.fetchval(
                "SELECT count(*) FROM holds WHERE status = 'active' AND total_cents = 3000"
            ),
            "held": counts["IN_PROGRESS"],
            "sold": counts["BOOKED"],
            "balanced": counts["IN_PROGRESS"] + counts["BOOKED"] + counts["AVAILABLE"] == counts["capacity"],
        }


async def test_1000_parallel_holds_for_a_code_limited_to_100(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id, racers = await setup(client, res, capacity=1200, customers=1150, max_uses=100)
    first, later = racers[:1000], racers[1000:]
    answers = await race(client, event_id, first)
    outcomes = Counter(outcome(r) for r in answers)
    assert outcomes == Counter({(201, ""): 100, (409, "code_exhausted"): 900}), outcomes
    state = await db_state(res, event_id)
    assert state == {
        "uses": 100,
        "live_uses": 100,
        "coded_holds": 100,
        "active_holds": 100,
        "uncoded_holds": 0,
        "discounted": 100,
        "held": 100,
        "sold": 0,
        "balanced": True,
    }
    assert await res.pool.fetchval("SELECT coalesce(sum(taken), 0) FROM allowances") == 100
    won = [(r.json()["id"], r.json()["customer_id"]) for r in answers if r.status_code == 201]

    # 30 cancelled, 20 expired, 10 bought: 50 uses back, 10 kept.
    cancelled, expired, bought = won[:30], won[30:50], won[50:60]
    answers = await asyncio.gather(
        *(client.delete(f"/api/holds/{h}", headers=auth(uuid.UUID(c))) for h, c in cancelled)
    )
    assert {r.status_code for r in answers} == {204}
    await res.pool.execute(
        "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])",
        [uuid.UUID(h) for h, _ in expired],
    )
    async with res.pool.acquire() as conn:
        assert await holds_service.expire_holds(conn, res.redis) == 20
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/holds/{h}/confirm",
                json={"payment_method": "pm_card_visa"},
                headers={**auth(uuid.UUID(c)), "Idempotency-Key": f"k-{h}"},
            )
            for h, c in bought
        )
    )
    assert [r.status_code for r in answers] == [200] * 10, [r.text for r in answers if r.status_code != 200]
    assert {p["price_cents"] for r in answers for p in r.json()["purchases"]} == {3000}
    state = await db_state(res, event_id)
    assert (state["uses"], state["live_uses"], state["held"], state["sold"]) == (50, 50, 40, 10)

    # Five refunds at once give five uses back.
    purchases = [r.json()["purchases"][0]["id"] for r in answers[:5]]
    refunds = await asyncio.gather(
        *(
            client.post(
                f"/api/tickets/{p}/refund", headers={"Authorization": f"Bearer {res.settings.admin_token}"}
            )
            for p in purchases
        )
    )
    assert [r.status_code for r in refunds] == [200] * 5
    state = await db_state(res, event_id)
    assert (state["uses"], state["live_uses"], state["sold"]) == (45, 45, 5)

    # The 55 uses given back are taken again, exactly, by 150 new racers (the refunded
    # buyers among them) — and no more.
    again = later + [uuid.UUID(c) for _, c in cancelled]
    answers = await race(client, event_id, again)
    outcomes = Counter(outcome(r) for r in answers)
    assert outcomes == Counter({(201, ""): 55, (409, "code_exhausted"): len(again) - 55}), outcomes
    state = await db_state(res, event_id)
    assert (state["uses"], state["live_uses"], state["coded_holds"]) == (100, 100, 100)
    assert state["balanced"] and state["uncoded_holds"] == 0
    listed = await client.get(
        f"/api/events/{event_id}/codes", headers={"Authorization": f"Bearer {res.settings.admin_token}"}
    )
    [code] = listed.json()
    assert (code["uses"], code["confirmed"], code["in_flight"]) == (100, 5, 95)
    assert code["revenue_cents"] == 5 * 3000 and code["discount_cents"] == 5 * 1000


async def test_control_without_the_guarded_update_the_code_is_overused(
    client: httpx.AsyncClient, res: Resources, without_guard: Callable[..., None]
) -> None:
    """The same race, the use counted read-then-write (`uses = <read> + 1`): concurrent
    holds read the same count, so more holds carry the code than its limit allows, and the
    counter no longer matches the uses recorded."""
    without_guard("code_use_guarded")
    event_id, racers = await setup(client, res, capacity=400, customers=300, max_uses=100)
    answers = await race(client, event_id, racers)
    winners = sum(r.status_code == 201 for r in answers)
    state = await db_state(res, event_id)
    assert state["coded_holds"] == winners > 100
    assert state["uses"] <= 100 < state["live_uses"]


async def test_300_checkouts_applying_a_code_limited_to_50(client: httpx.AsyncClient, res: Resources) -> None:
    """The same limit through the checkout's path (a code applied to holds already made)."""
    event_id, racers = await setup(client, res, capacity=300, customers=300, max_uses=50)
    holds = await asyncio.gather(
        *(client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(c)) for c in racers)
    )
    assert {r.status_code for r in holds} == {201}

    async def apply(r: httpx.Response) -> httpx.Response:
        for _ in range(BUSY_RETRIES):
            answer = await client.post(
                f"/api/holds/{r.json()['id']}/code",
                json={"code": "flash"},
                headers=auth(uuid.UUID(r.json()["customer_id"])),
            )
            if answer.status_code != 503:
                return answer
            await asyncio.sleep(0.5)
        return answer

    answers = await asyncio.gather(*(apply(r) for r in holds))
    outcomes = Counter(outcome(r) for r in answers)
    assert outcomes == Counter({(200, ""): 50, (409, "code_exhausted"): 250}), outcomes
    state = await db_state(res, event_id)
    assert (state["uses"], state["live_uses"], state["coded_holds"], state["discounted"]) == (50, 50, 50, 50)
    assert state["active_holds"] == 300 and state["balanced"]

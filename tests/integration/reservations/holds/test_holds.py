"""Holds through the API on real PostgreSQL and Redis, payments through the stub."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from core.auth import issue_customer_token
from core.queues import DEFAULT_QUEUE
from core.resources import Resources
from payments_stub.app import create_app as create_payments_app
from payments_stub.service import StubConfig
from reservations import keys
from reservations.holds import service as holds_service
from reservations.holds.confirm import payment_description
from tests.factories import make_customer, make_event, stock_counts

PM_OK = "pm_card_visa"
PM_DECLINED = "pm_card_chargeDeclined"


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def admin(res: Resources) -> dict[str, str]:
    return {"Authorization": f"Bearer {res.settings.admin_token}"}


async def charges_of(res: Resources, hold_id: str, status: str | None = None) -> list[dict[str, Any]]:
    params = {"description": payment_description(uuid.UUID(hold_id))}
    if status:
        params["status"] = status
    r = await res.http.get("/v1/charges", params=params)
    assert r.status_code == 200
    charges: list[dict[str, Any]] = r.json()["charges"]
    return charges


async def setup(res: Resources, **event: Any) -> tuple[uuid.UUID, uuid.UUID]:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, **event)
        customer_id = await make_customer(conn)
    return event_id, customer_id


async def create_hold(
    client: httpx.AsyncClient, event_id: uuid.UUID, customer_id: uuid.UUID, body: Any = None
) -> httpx.Response:
    payload = {"quantity": 1} if body is None else body
    return await client.post(f"/api/events/{event_id}/holds", json=payload, headers=auth(customer_id))


async def confirm(
    client: httpx.AsyncClient, hold_id: str, customer_id: uuid.UUID, card: str = PM_OK, key: str = "k1"
) -> httpx.Response:
    return await client.post(
        f"/api/holds/{hold_id}/confirm",
        json={"payment_method": card},
        headers={**auth(customer_id), "Idempotency-Key": key},
    )


async def nothing_written(res: Resources, event_id: uuid.UUID) -> None:
    assert await res.pool.fetchval("SELECT count(*) FROM holds") == 0
    assert await res.pool.fetchval("SELECT count(*) FROM allowances WHERE taken > 0") == 0
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 0
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert counts["AVAILABLE"] == counts["capacity"]


# ---------------------------------------------------------------------------- create


async def test_hold_any_seats(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(
        res, capacity=10, price_cents=4000, max_per_customer=4, hold_ttl_s=120
    )
    r = await create_hold(client, event_id, customer_id, {"quantity": 3})
    assert r.status_code == 201, r.text
    hold = r.json()
    assert hold["status"] == "active"
    assert hold["event_id"] == str(event_id)
    assert 118 <= hold["seconds_left"] <= 120
    assert hold["total_cents"] == 12000
    assert [t["price_cents"] for t in hold["tickets"]] == [4000] * 3
    assert not any(t["half_price"] for t in hold["tickets"])
    rows = await res.pool.fetch(
        "SELECT status, hold_id, customer_id FROM tickets WHERE id = ANY($1::uuid[])",
        [t["id"] for t in hold["tickets"]],
    )
    assert {(r["status"], str(r["hold_id"]), r["customer_id"]) for r in rows} == {
        ("IN_PROGRESS", hold["id"], customer_id)
    }
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 3
    # No job of its own: the per-second sweep expires it (ADR 0022).
    assert await res.redis.zscore(DEFAULT_QUEUE, keys.expire_hold_job_id(hold["id"])) is None


async def test_hold_named_seats_with_half_price(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(
        res,
        sections=[{"name": "A", "price_cents": 9001, "rows": 2, "seats_per_row": 5}],
        max_per_customer=4,
        half_price=True,
    )
    seats = await res.pool.fetch(
        "SELECT id, row_label, seat_number FROM tickets WHERE event_id = $1 ORDER BY row_label, seat_number",
        event_id,
    )
    wanted = [seats[6]["id"], seats[1]["id"]]  # B2, then A2: the answer lists them in seat order
    r = await create_hold(
        client, event_id, customer_id, {"seat_ids": [str(s) for s in wanted], "half_price": 1}
    )
    assert r.status_code == 201, r.text
    hold = r.json()
    assert [(t["section"], t["row"], t["number"]) for t in hold["tickets"]] == [("A", "A", 2), ("A", "B", 2)]
    assert [t["half_price"] for t in hold["tickets"]] == [True, False]
    assert [t["price_cents"] for t in hold["tickets"]] == [4500, 9001]  # half rounded down
    assert hold["total_cents"] == 13501
    # The same view on a later read.
    again = await client.get(f"/api/holds/{hold['id']}", headers=auth(customer_id))
    assert again.json()["tickets"] == hold["tickets"]


async def test_hold_conflicts(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, first = await setup(res, capacity=2, max_per_customer=2)
    async with res.pool.acquire() as conn:
        second = await make_customer(conn)
    r = await create_hold(client, event_id, first, {"quantity": 2})
    assert r.status_code == 201
    r = await create_hold(client, event_id, first, {"quantity": 1})
    assert (r.status_code, r.json()["error"]) == (409, "limit_reached")
    r = await create_hold(client, event_id, second, {"quantity": 1})
    assert (r.status_code, r.json()["error"]) == (409, "sold_out")
    # The refused requests gave their allowance back (their transaction rolled back).
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", second) is None


async def test_seat_taken_and_unknown_seat(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, first = await setup(
        res, sections=[{"name": "A", "price_cents": 100, "rows": 1, "seats_per_row": 3}], max_per_customer=3
    )
    async with res.pool.acquire() as conn:
        second = await make_customer(conn)
        other_event = await make_event(conn, capacity=1)
    seat_ids = [
        str(r["id"]) for r in await res.pool.fetch("SELECT id FROM tickets WHERE event_id = $1", event_id)
    ]
    other_seat = await res.pool.fetchval("SELECT id FROM tickets WHERE event_id = $1", other_event)
    assert (await create_hold(client, event_id, first, {"seat_ids": seat_ids[:2]})).status_code == 201
    r = await create_hold(client, event_id, second, {"seat_ids": seat_ids[1:]})
    assert (r.status_code, r.json()["error"], r.json()["field"]) == (409, "seat_taken", "seat_ids")
    r = await create_hold(client, event_id, second, {"seat_ids": [seat_ids[2], str(other_seat)]})
    assert (r.status_code, r.json()["error"]) == (404, "seat_not_found")
    assert await res.pool.fetchval("SELECT count(*) FROM holds WHERE customer_id = $1", second) == 0


async def test_hold_needs_a_customer_and_a_known_open_event(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id, customer_id = await setup(res, capacity=3)
    r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1})
    assert r.status_code == 401
    r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=admin(res))
    assert r.status_code == 403
    r = await create_hold(client, uuid.uuid4(), customer_id)
    assert (r.status_code, r.json()["error"]) == (404, "event_not_found")
    await res.pool.execute(
        "UPDATE events SET sales_open_at = now() + interval '1 hour' WHERE id = $1", event_id
    )
    r = await create_hold(client, event_id, customer_id)
    assert (r.status_code, r.json()["error"]) == (409, "not_on_sale")
    await nothing_written(res, event_id)


BAD_BODIES = [
    ({}, "quantity"),
    ({"quantity": 1, "seat_ids": [str(uuid.uuid4())]}, "quantity"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": 21}, "quantity"),
    ({"quantity": "2"}, "quantity"),
    ({"quantity": 1.5}, "quantity"),
    ({"seat_ids": []}, "seat_ids"),
    ({"seat_ids": ["not-a-uuid"]}, "seat_ids[0]"),
    ({"seat_ids": [str(uuid.UUID(int=1))] * 2}, "seat_ids"),
    ({"seat_ids": [str(uuid.uuid4()) for _ in range(21)]}, "seat_ids"),
    ({"quantity": 1, "half_price": 2}, "half_price"),
    ({"quantity": 1, "half_price": -1}, "half_price"),
    ({"quantity": 1, "half_price": 1}, "half_price"),  # the event sells no half-price tickets
    ({"quantity": 1, "extra": True}, "extra"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_bad_hold_input(client: httpx.AsyncClient, res: Resources, body: Any, field: str) -> None:
    event_id, customer_id = await setup(res, capacity=3, max_per_customer=3)
    r = await create_hold(client, event_id, customer_id, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_input"
    assert r.json()["field"] == field
    await nothing_written(res, event_id)


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b"null", b'{"quantity": 1'])
async def test_malformed_hold_body(client: httpx.AsyncClient, res: Resources, raw: bytes) -> None:
    event_id, customer_id = await setup(res, capacity=3)
    r = await client.post(
        f"/api/events/{event_id}/holds",
        content=raw,
        headers={**auth(customer_id), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input"
    await nothing_written(res, event_id)


async def test_bad_path_id(client: httpx.AsyncClient, res: Resources) -> None:
    _, customer_id = await setup(res, capacity=1)
    r = await client.post("/api/events/nope/holds", json={"quantity": 1}, headers=auth(customer_id))
    assert (r.status_code, r.json()["field"]) == (400, "event_id")
    for method, path in [("GET", "/api/holds/nope"), ("DELETE", "/api/holds/nope")]:
        r = await client.request(method, path, headers=auth(customer_id))
        assert (r.status_code, r.json()["field"]) == (400, "hold_id")
    r = await client.post(
        "/api/holds/nope/confirm",
        json={"payment_method": PM_OK},
        headers={**auth(customer_id), "Idempotency-Key": "k"},
    )
    assert (r.status_code, r.json()["field"]) == (400, "hold_id")


# ---------------------------------------------------------------------------- read, cancel


async def test_get_hold_owner_or_organizer(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=3)
    async with res.pool.acquire() as conn:
        stranger = await make_customer(conn)
    hold = (await create_hold(client, event_id, customer_id)).json()
    mine = await client.get(f"/api/holds/{hold['id']}", headers=auth(customer_id))
    assert mine.status_code == 200
    assert mine.json()["id"] == hold["id"] and mine.json()["tickets"] == hold["tickets"]
    assert (await client.get(f"/api/holds/{hold['id']}", headers=admin(res))).status_code == 200
    assert (await client.get(f"/api/holds/{hold['id']}", headers=auth(stranger))).status_code == 403
    assert (await client.delete(f"/api/holds/{hold['id']}", headers=auth(stranger))).status_code == 403
    r = await client.get(f"/api/holds/{uuid.uuid4()}", headers=auth(customer_id))
    assert (r.status_code, r.json()["error"]) == (404, "hold_not_found")


async def test_cancel_puts_tickets_back(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=1)
    hold = (await create_hold(client, event_id, customer_id)).json()
    r = await client.delete(f"/api/holds/{hold['id']}", headers=auth(customer_id))
    assert r.status_code == 204
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert counts["AVAILABLE"] == 1 and counts["IN_PROGRESS"] == 0
    row = await res.pool.fetchrow("SELECT status, ended_at FROM holds WHERE id = $1", uuid.UUID(hold["id"]))
    assert row["status"] == "cancelled" and row["ended_at"] is not None
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 0
    # Cancelling again is harmless; the allowance was released once.
    assert (await client.delete(f"/api/holds/{hold['id']}", headers=auth(customer_id))).status_code == 204
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 0
    # The customer (limit 1) can hold again; a cancelled hold cannot be confirmed.
    assert (await create_hold(client, event_id, customer_id)).status_code == 201
    r = await confirm(client, hold["id"], customer_id)
    assert (r.status_code, r.json()["error"]) == (409, "hold_not_active")
    assert await charges_of(res, hold["id"]) == []


async def test_organizer_cancels_and_confirmed_hold_cannot_be_cancelled(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id, customer_id = await setup(res, capacity=2, max_per_customer=2)
    first = (await create_hold(client, event_id, customer_id)).json()
    assert (await client.delete(f"/api/holds/{first['id']}", headers=admin(res))).status_code == 204
    second = (await create_hold(client, event_id, customer_id)).json()
    assert (await confirm(client, second["id"], customer_id)).status_code == 200
    r = await client.delete(f"/api/holds/{second['id']}", headers=auth(customer_id))
    assert (r.status_code, r.json()["error"]) == (409, "hold_not_active")
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == 1


# ---------------------------------------------------------------------------- confirm


async def test_confirm_books_and_charges_once(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(
        res, capacity=5, price_cents=3001, max_per_customer=2, half_price=True
    )
    hold = (await create_hold(client, event_id, customer_id, {"quantity": 2, "half_price": 1})).json()
    assert hold["total_cents"] == 3001 + 1500
    r = await confirm(client, hold["id"], customer_id)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["purchases"]) == 2
    assert sorted(p["price_cents"] for p in body["purchases"]) == [1500, 3001]
    assert [p["half_price"] for p in body["purchases"]] == [t["half_price"] for t in hold["tickets"]]
    assert {p["ticket_id"] for p in body["purchases"]} == {t["id"] for t in hold["tickets"]}
    charges = await charges_of(res, hold["id"])
    assert [(c["status"], c["amount_cents"]) for c in charges] == [("succeeded", 4501)]
    assert body["payment_id"] == charges[0]["id"]
    row = await res.pool.fetchrow("SELECT status, payment_id FROM holds WHERE id = $1", uuid.UUID(hold["id"]))
    assert (row["status"], row["payment_id"]) == ("confirmed", charges[0]["id"])
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert (counts["BOOKED"], counts["IN_PROGRESS"], counts["AVAILABLE"]) == (2, 0, 3)
    # The hold still lists what it bought; the allowance stays taken (the tickets are owned).
    seen = (await client.get(f"/api/holds/{hold['id']}", headers=auth(customer_id))).json()
    assert seen["status"] == "confirmed" and seen["tickets"] == hold["tickets"] and seen["seconds_left"] == 0
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 2


async def test_confirm_replay_sequential(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=3)
    hold = (await create_hold(client, event_id, customer_id)).json()
    first = await confirm(client, hold["id"], customer_id, key="same")
    again = await confirm(client, hold["id"], customer_id, key="same")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert len(await charges_of(res, hold["id"])) == 1
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 1
    # The same key with another payment method: refused, nothing happens.
    other = await confirm(client, hold["id"], customer_id, card="pm_0123456789abcdef", key="same")
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")
    # Another key on a confirmed hold: 409, and no new charge.
    late = await confirm(client, hold["id"], customer_id, key="other")
    assert (late.status_code, late.json()["error"]) == (409, "hold_not_active")
    assert len(await charges_of(res, hold["id"])) == 1


async def test_confirm_replay_concurrent(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=3)
    hold = (await create_hold(client, event_id, customer_id)).json()
    answers = await asyncio.gather(
        *(confirm(client, hold["id"], customer_id, key="burst") for _ in range(20))
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert len(await charges_of(res, hold["id"])) == 1
    assert (
        await res.pool.fetchval("SELECT count(*) FROM purchases WHERE hold_id = $1", uuid.UUID(hold["id"]))
        == 1
    )


async def test_declined_card_keeps_the_hold(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=3)
    hold = (await create_hold(client, event_id, customer_id)).json()
    r = await confirm(client, hold["id"], customer_id, card=PM_DECLINED, key="try-1")
    assert (r.status_code, r.json()["error"]) == (402, "payment_declined")
    replay = await confirm(client, hold["id"], customer_id, card=PM_DECLINED, key="try-1")
    assert (replay.status_code, replay.content) == (402, r.content)
    assert (
        await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", uuid.UUID(hold["id"])) == "active"
    )
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 0
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["IN_PROGRESS"] == 1
    # A new attempt with another card and a new key goes through: one captured charge.
    ok = await confirm(client, hold["id"], customer_id, card=PM_OK, key="try-2")
    assert ok.status_code == 200, ok.text
    charges = await charges_of(res, hold["id"])
    assert sorted(c["status"] for c in charges) == ["declined", "succeeded"]


async def test_confirm_after_expiry_is_410_without_charge(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=1)
    hold = (await create_hold(client, event_id, customer_id)).json()
    # expires_at has passed but no expiry job has run (no worker here).
    await res.pool.execute(
        "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(hold["id"])
    )
    r = await confirm(client, hold["id"], customer_id)
    assert (r.status_code, r.json()["error"]) == (410, "hold_expired")
    assert await charges_of(res, hold["id"]) == []
    assert (
        await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", uuid.UUID(hold["id"])) == "expired"
    )
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["AVAILABLE"] == 1
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 0
    again = await confirm(client, hold["id"], customer_id, key="k2")
    assert (again.status_code, again.json()["error"]) == (410, "hold_expired")
    assert await charges_of(res, hold["id"]) == []


async def test_confirm_input_and_ownership(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=2)
    async with res.pool.acquire() as conn:
        stranger = await make_customer(conn)
    hold = (await create_hold(client, event_id, customer_id)).json()
    url = f"/api/holds/{hold['id']}/confirm"
    r = await client.post(url, json={"payment_method": PM_OK}, headers=auth(customer_id))
    assert (r.status_code, r.json()["field"]) == (400, "Idempotency-Key")
    r = await client.post(
        url, json={"payment_method": PM_OK}, headers={**auth(customer_id), "Idempotency-Key": "x" * 256}
    )
    assert (r.status_code, r.json()["field"]) == (400, "Idempotency-Key")
    for body, field in [
        ({}, "payment_method"),
        ({"payment_method": "42"}, "payment_method"),
        ({"payment_method": 4242}, "payment_method"),
        # A card number is never taken: the browser tokenises it at the provider.
        ({"payment_method": "4242424242424242"}, "payment_method"),
        ({"payment_method": PM_OK, "card_number": "4242424242424242"}, "card_number"),
    ]:
        r = await client.post(url, json=body, headers={**auth(customer_id), "Idempotency-Key": "k"})
        assert (r.status_code, r.json()["field"]) == (400, field), r.text
    r = await confirm(client, hold["id"], stranger)
    assert r.status_code == 403
    r = await client.post(url, json={"payment_method": PM_OK}, headers={**admin(res), "Idempotency-Key": "k"})
    assert r.status_code == 403
    r = await confirm(client, str(uuid.uuid4()), customer_id)
    assert (r.status_code, r.json()["error"]) == (404, "hold_not_found")
    # None of that touched the hold, charged anything, or burnt the key.
    assert await charges_of(res, hold["id"]) == []
    assert await res.redis.exists(keys.confirm_idempotency(hold["id"], "k")) == 0
    assert (await confirm(client, hold["id"], customer_id, key="k")).status_code == 200


async def test_free_hold_confirms_without_a_charge(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=1, price_cents=0)
    hold = (await create_hold(client, event_id, customer_id)).json()
    r = await confirm(client, hold["id"], customer_id)
    assert r.status_code == 200
    assert r.json()["payment_id"] is None and len(r.json()["purchases"]) == 1
    assert await charges_of(res, hold["id"]) == []


async def test_payment_provider_down_is_502_and_retryable(
    client: httpx.AsyncClient, res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id, customer_id = await setup(res, capacity=1)
    hold = (await create_hold(client, event_id, customer_id)).json()
    real = res.http

    failing = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(503)), base_url="http://payments"
    )
    monkeypatch.setattr(res, "http", failing)
    r = await confirm(client, hold["id"], customer_id, key="k")
    assert (r.status_code, r.json()["error"]) == (502, "payment_unavailable")
    assert (
        await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", uuid.UUID(hold["id"])) == "active"
    )
    monkeypatch.setattr(res, "http", real)
    await failing.aclose()
    # The 502 was not stored: the same key runs again and succeeds.
    r = await confirm(client, hold["id"], customer_id, key="k")
    assert r.status_code == 200
    assert len(await charges_of(res, hold["id"])) == 1


# ---------------------------------------------------------------------- confirm: nothing open while charging


class ProviderProbe(httpx.AsyncBaseTransport):
    """The payments stub in process, with a view on charges in flight: `charging` is set
    when a charge request reaches the provider; while `gate` is clear, charges wait there."""

    def __init__(self, config: StubConfig) -> None:
        self.inner = httpx.ASGITransport(app=create_payments_app(config))
        self.charging = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.rstrip("/") == "/v1/charges":
            self.charging.set()
            await self.gate.wait()
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def probe(res: Resources, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ProviderProbe]:
    """A slow provider (0.3 s per charge or refund) in place of the default stub."""
    transport = ProviderProbe(StubConfig(latency_ms=300))
    async with httpx.AsyncClient(transport=transport, base_url="http://payments") as provider:
        monkeypatch.setattr(res, "http", provider)
        yield transport


async def in_use(res: Resources) -> int:
    return res.pool.get_size() - res.pool.get_idle_size()


async def lock_nowait(res: Resources, hold_id: str) -> bool:
    """Whether a connection outside the pool can lock the hold row at once (NOWAIT)."""
    conn = await asyncpg.connect(res.settings.database_url)
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                "SELECT id FROM holds WHERE id = $1 FOR UPDATE NOWAIT", uuid.UUID(hold_id)
            )
            return row is not None
    except asyncpg.LockNotAvailableError:
        return False
    finally:
        await conn.close()


async def test_slow_charge_holds_no_connection_and_no_lock(
    client: httpx.AsyncClient, res: Resources, probe: ProviderProbe
) -> None:
    event_id, customer_id = await setup(res, capacity=2)
    hold = (await create_hold(client, event_id, customer_id)).json()
    # Control: the probes see a locked row and a borrowed connection when there is one.
    async with res.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM holds WHERE id = $1 FOR UPDATE", uuid.UUID(hold["id"]))
        assert await lock_nowait(res, hold["id"]) is False
        assert await in_use(res) == 1
    assert await in_use(res) == 0

    probe.gate.clear()  # the charge stays at the provider until the probes have run
    confirming = asyncio.create_task(confirm(client, hold["id"], customer_id))
    await asyncio.wait_for(probe.charging.wait(), 5)
    # While the provider takes its time: every pooled connection is idle, and another
    # session can lock the hold row without waiting.
    assert await in_use(res) == 0
    assert await lock_nowait(res, hold["id"]) is True
    assert not confirming.done()
    probe.gate.set()
    r = await confirming
    assert r.status_code == 200, r.text
    assert [c["status"] for c in await charges_of(res, hold["id"])] == ["succeeded"]
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == 1


@pytest.mark.parametrize("ended_by", ["sweeper", "expiry_job", "settle", "cancel"])
async def test_charge_landing_after_the_hold_ended_is_refunded(
    client: httpx.AsyncClient, res: Resources, probe: ProviderProbe, ended_by: str
) -> None:
    event_id, customer_id = await setup(res, capacity=3, max_per_customer=2)
    hold = (await create_hold(client, event_id, customer_id)).json()
    hold_id = uuid.UUID(hold["id"])
    probe.gate.clear()
    confirming = asyncio.create_task(confirm(client, hold["id"], customer_id, key="late"))
    await asyncio.wait_for(probe.charging.wait(), 5)
    # The confirm reserved the hold in time; its charge is at the provider. Now the hold
    # runs out (or is cancelled) before the charge comes back.
    await res.pool.execute("UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", hold_id)
    async with res.pool.acquire() as conn:
        if ended_by == "sweeper":  # not held off by the confirm: it holds no lock
            assert await holds_service.expire_holds(conn, res.redis) == 1
        elif ended_by == "expiry_job":
            assert await holds_service.expire_hold(conn, res.redis, hold_id=hold_id) is True
    if ended_by == "cancel":
        await res.pool.execute(
            "UPDATE holds SET expires_at = now() + interval '1 minute' WHERE id = $1", hold_id
        )
        assert (await client.delete(f"/api/holds/{hold['id']}", headers=auth(customer_id))).status_code == 204
    probe.gate.set()
    r = await confirming

    expected = (409, "hold_not_active") if ended_by == "cancel" else (410, "hold_expired")
    assert (r.status_code, r.json()["error"]) == expected, r.text
    # Refunded before the answer; nothing booked; the ticket is back on sale once.
    charges = await charges_of(res, hold["id"])
    assert [(c["status"], c["amount_cents"]) for c in charges] == [("refunded", hold["total_cents"])]
    status = "cancelled" if ended_by == "cancel" else "expired"
    row = await res.pool.fetchrow("SELECT status, payment_id FROM holds WHERE id = $1", hold_id)
    assert (row["status"], row["payment_id"]) == (status, None)
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 0
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert (counts["BOOKED"], counts["IN_PROGRESS"], counts["AVAILABLE"]) == (0, 0, counts["capacity"])
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 0
    # The same key replays the refusal; nothing is charged again.
    again = await confirm(client, hold["id"], customer_id, key="late")
    assert (again.status_code, again.content) == (r.status_code, r.content)
    assert len(await charges_of(res, hold["id"])) == 1


async def test_two_confirms_of_one_hold_charge_once(
    client: httpx.AsyncClient, res: Resources, probe: ProviderProbe
) -> None:
    """Two confirms under different client keys, both past reserve before either settles:
    one provider charge (same provider key), one winner, and the charge is not refunded."""
    event_id, customer_id = await setup(res, capacity=2)
    hold = (await create_hold(client, event_id, customer_id)).json()
    probe.gate.clear()
    first = asyncio.create_task(confirm(client, hold["id"], customer_id, key="a"))
    second = asyncio.create_task(confirm(client, hold["id"], customer_id, key="b"))
    await asyncio.wait_for(probe.charging.wait(), 5)
    await asyncio.sleep(0.1)  # both at the provider
    probe.gate.set()
    answers = sorted([(await first).status_code, (await second).status_code])
    assert answers == [200, 409]
    charges = await charges_of(res, hold["id"])
    assert [c["status"] for c in charges] == ["succeeded"]
    assert await res.pool.fetchval("SELECT payment_id FROM holds") == charges[0]["id"]
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 1


async def test_concurrent_declines_move_the_provider_key_once(
    client: httpx.AsyncClient, res: Resources, probe: ProviderProbe
) -> None:
    """Two declined confirms that used the same provider key count as one declined
    attempt: the key moves on from the attempt it was used for, never twice."""
    event_id, customer_id = await setup(res, capacity=2)
    hold = (await create_hold(client, event_id, customer_id)).json()
    probe.gate.clear()
    tries = [
        asyncio.create_task(confirm(client, hold["id"], customer_id, card=PM_DECLINED, key=k))
        for k in ("d1", "d2")
    ]
    await asyncio.wait_for(probe.charging.wait(), 5)
    await asyncio.sleep(0.1)
    probe.gate.set()
    assert [(await t).status_code for t in tries] == [402, 402]
    assert await res.redis.get(keys.hold_payment_attempt(hold["id"])) == b"1"
    ok = await confirm(client, hold["id"], customer_id, key="good")
    assert ok.status_code == 200, ok.text
    charges = await charges_of(res, hold["id"])
    assert sorted(c["status"] for c in charges) == ["declined", "succeeded"]


# ---------------------------------------------------------------------------- expiry


async def test_the_sweep_frees_tickets_within_two_seconds(
    client: httpx.AsyncClient, res: Resources, worker: Any
) -> None:
    event_id, customer_id = await setup(res, capacity=2, hold_ttl_s=5)
    hold = (await create_hold(client, event_id, customer_id)).json()
    hold_id = uuid.UUID(hold["id"])
    expires_at = await res.pool.fetchval(
        "SELECT extract(epoch FROM expires_at)::float8 FROM holds WHERE id = $1", hold_id
    )
    freed_at = None
    deadline = time.time() + 10
    while time.time() < deadline:
        held = await res.pool.fetchval(
            "SELECT count(*) FROM tickets WHERE event_id = $1 AND status = 'IN_PROGRESS'", event_id
        )
        if held == 0:
            freed_at = time.time()
            break
        await asyncio.sleep(0.02)
    assert freed_at is not None, "the hold never expired"
    lag = freed_at - expires_at
    print(f"tickets back on sale {lag:.3f}s after expires_at")
    assert -0.05 <= lag < 2.0
    assert await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", hold_id) == "expired"
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 0
    r = await confirm(client, hold["id"], customer_id)
    assert r.status_code == 410
    assert await charges_of(res, hold["id"]) == []


async def test_expire_hold_only_when_due(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=1)
    hold = (await create_hold(client, event_id, customer_id)).json()
    hold_id = uuid.UUID(hold["id"])
    async with res.pool.acquire() as conn:
        assert await holds_service.expire_hold(conn, res.redis, hold_id=hold_id) is False
        assert await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", hold_id) == "active"
        # Due in 0.3 s: a job that runs early waits for it.
        await res.pool.execute(
            "UPDATE holds SET expires_at = now() + interval '300 ms' WHERE id = $1", hold_id
        )
        assert await holds_service.expire_hold(conn, res.redis, hold_id=hold_id) is True
        assert await holds_service.expire_hold(conn, res.redis, hold_id=hold_id) is False
    assert await res.pool.fetchval("SELECT status FROM holds WHERE id = $1", hold_id) == "expired"
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", customer_id) == 0


async def test_sweeper_expires_every_overdue_hold(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, _ = await setup(res, capacity=30, max_per_customer=1)
    async with res.pool.acquire() as conn:
        customers = [await make_customer(conn) for _ in range(12)]
    made = [(await create_hold(client, event_id, c)).json() for c in customers]
    overdue = [uuid.UUID(h["id"]) for h in made[:9]]
    await res.pool.execute(
        "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])", overdue
    )
    async with res.pool.acquire() as conn:
        assert await holds_service.expire_holds(conn, res.redis, batch=4) == 9
        assert await holds_service.expire_holds(conn, res.redis) == 0
        counts = await stock_counts(conn, event_id)
    assert (counts["IN_PROGRESS"], counts["AVAILABLE"]) == (3, 27)
    statuses = await res.pool.fetch("SELECT id, status FROM holds")
    assert {r["id"] for r in statuses if r["status"] == "expired"} == set(overdue)
    assert await res.pool.fetchval("SELECT sum(taken) FROM allowances") == 3


async def test_hold_messages_reach_the_customer_channel(client: httpx.AsyncClient, res: Resources) -> None:
    event_id, customer_id = await setup(res, capacity=1)
    pubsub = res.redis.pubsub()
    # Litestar's channel backend publishes on the channel name as given.
    await pubsub.subscribe(keys.customer_channel(customer_id))
    try:
        hold = (await create_hold(client, event_id, customer_id)).json()
        await client.delete(f"/api/holds/{hold['id']}", headers=auth(customer_id))
        seen: list[str] = []
        deadline = time.time() + 3
        while len(seen) < 2 and time.time() < deadline:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if msg:
                payload = json.loads(msg["data"])
                assert payload["type"] == "hold" and payload["hold"]["id"] == hold["id"]
                seen.append(payload["hold"]["status"])
        assert seen == ["active", "cancelled"]
    finally:
        await pubsub.aclose()

"""Ticket types (docs/ticket-types.md): an event with general-admission types "Pista" and
"VIP" sells the type the buyer names, with each type's sale window and limit, and shows
the counters per type."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from core.auth import issue_customer_token
from core.config import Settings
from core.resources import Resources
from reservations.inventory import service as inventory
from reservations.live import service as live
from reservations.orders.reconcile import check_invariants
from tests.factories import make_customer

NOW = dt.datetime.now(dt.UTC)
LATER = (NOW + dt.timedelta(days=20)).isoformat()


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


PISTA = {"name": "Pista", "price_cents": 10000, "capacity": 50}
VIP = {"name": "VIP", "price_cents": 30000, "capacity": 10}


async def create_event(
    client: httpx.AsyncClient, admin: dict[str, str], *types: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    body = {"name": "Festival", "starts_at": LATER, "sections": list(types or (PISTA, VIP))} | extra
    r = await client.post("/api/events", json=body, headers=admin)
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    return event


async def hold(client: httpx.AsyncClient, event_id: str, customer: uuid.UUID, **body: Any) -> httpx.Response:
    return await client.post(f"/api/events/{event_id}/holds", json=body, headers=auth(customer))


async def customer(res: Resources) -> uuid.UUID:
    async with res.pool.acquire() as conn:
        return await make_customer(conn)


async def test_a_buyer_holds_the_type_they_name(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The issue's reproduction: with "Pista" and "VIP" a hold always took Pista."""
    event = await create_event(client, admin, max_per_customer=4)
    me = await customer(res)
    r = await hold(client, event["id"], me, quantity=2, ticket_type="VIP")
    assert r.status_code == 201, r.text
    assert [t["section"] for t in r.json()["tickets"]] == ["VIP", "VIP"]
    assert r.json()["total_cents"] == 60000
    r = await hold(client, event["id"], me, quantity=1, ticket_type="Pista")
    assert r.status_code == 201, r.text
    assert r.json()["tickets"][0]["section"] == "Pista"
    sections = await res.pool.fetch(
        "SELECT section, count(*) FROM tickets WHERE event_id = $1 AND status = 'IN_PROGRESS' GROUP BY 1",
        uuid.UUID(event["id"]),
    )
    assert dict(sections) == {"VIP": 2, "Pista": 1}


async def test_the_event_shows_its_types_with_counters(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    event = await create_event(client, admin)
    assert [
        (t["name"], t["kind"], t["capacity"], t["available"], t["on_sale"]) for t in event["ticket_types"]
    ] == [
        ("Pista", "general", 50, 50, True),
        ("VIP", "general", 10, 10, True),
    ]
    me = await customer(res)
    assert (await hold(client, event["id"], me, quantity=1, ticket_type="VIP")).status_code == 201
    await res.redis.flushdb()  # the stock cache: read the counters afresh
    view = (await client.get(f"/api/events/{event['id']}")).json()
    vip = next(t for t in view["ticket_types"] if t["name"] == "VIP")
    assert (vip["available"], vip["held"], vip["sold"]) == (9, 1, 0)
    assert view["live"]["held"] == 1
    listed = (await client.get("/api/events")).json()
    mine = next(e for e in listed if e["id"] == event["id"])
    assert [(t["name"], t["held"]) for t in mine["ticket_types"]] == [("Pista", 0), ("VIP", 1)]


async def test_a_general_admission_event_has_no_types(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    r = await client.post(
        "/api/events",
        json={"name": "GA", "starts_at": LATER, "capacity": 5, "price_cents": 100},
        headers=admin,
    )
    assert r.status_code == 201
    assert r.json()["ticket_types"] == []


async def test_an_unknown_type_is_422_and_writes_nothing(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    event = await create_event(client, admin)
    me = await customer(res)
    r = await hold(client, event["id"], me, quantity=1, ticket_type="Camarote")
    assert r.status_code == 422
    assert r.json()["error"] == "unknown_ticket_type" and r.json()["field"] == "ticket_type"
    assert await res.pool.fetchval("SELECT count(*) FROM holds") == 0
    assert await res.pool.fetchval("SELECT count(*) FROM allowances") == 0


async def test_a_type_outside_its_window_is_not_on_sale(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    later = (NOW + dt.timedelta(days=2)).isoformat()
    event = await create_event(client, admin, PISTA, VIP | {"sales_open_at": later}, max_per_customer=4)
    vip = next(t for t in event["ticket_types"] if t["name"] == "VIP")
    assert vip["on_sale"] is False and vip["sales_open_at"] is not None
    me = await customer(res)
    r = await hold(client, event["id"], me, quantity=1, ticket_type="VIP")
    assert r.status_code == 409 and r.json()["error"] == "not_on_sale"
    # Without a type, only the types on sale now: Pista.
    r = await hold(client, event["id"], me, quantity=3)
    assert r.status_code == 201
    assert {t["section"] for t in r.json()["tickets"]} == {"Pista"}
    # A type whose sale has closed.
    closed = PISTA | {"name": "Early", "sales_close_at": (NOW - dt.timedelta(days=400)).isoformat()}
    event2 = await create_event(client, admin, closed, VIP)
    r = await hold(client, event2["id"], me, quantity=1, ticket_type="Early")
    assert r.status_code == 409 and r.json()["error"] == "not_on_sale"


async def test_a_type_limit_holds_and_comes_back_on_cancel(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    event = await create_event(client, admin, PISTA, VIP | {"max_per_customer": 1}, max_per_customer=4)
    me = await customer(res)
    r = await hold(client, event["id"], me, quantity=2, ticket_type="VIP")
    assert r.status_code == 409 and r.json()["error"] == "limit_reached"
    assert "VIP" in r.json()["detail"]
    first = await hold(client, event["id"], me, quantity=1, ticket_type="VIP")
    assert first.status_code == 201
    r = await hold(client, event["id"], me, quantity=1, ticket_type="VIP")
    assert r.status_code == 409 and r.json()["error"] == "limit_reached"
    assert (await hold(client, event["id"], me, quantity=2, ticket_type="Pista")).status_code == 201
    assert (await client.delete(f"/api/holds/{first.json()['id']}", headers=auth(me))).status_code == 204
    assert await res.pool.fetchval("SELECT taken FROM type_allowances WHERE customer_id = $1", me) == 0
    assert (await hold(client, event["id"], me, quantity=1, ticket_type="VIP")).status_code == 201
    # The event's limit still counts every type: 1 VIP + 2 Pista + 1 more = 4, the fifth is refused.
    assert (await hold(client, event["id"], me, quantity=1, ticket_type="Pista")).status_code == 201
    r = await hold(client, event["id"], me, quantity=1, ticket_type="Pista")
    assert r.status_code == 409 and r.json()["error"] == "limit_reached"


async def test_named_seats_must_be_of_the_named_type(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    seats = {"name": "Cadeira", "price_cents": 20000, "rows": 2, "seats_per_row": 3}
    event = await create_event(client, admin, PISTA, seats, max_per_customer=4)
    assert [t["kind"] for t in event["ticket_types"]] == ["general", "seated"]
    seat = (await client.get(f"/api/events/{event['id']}/seats")).json()[0]["id"]
    me = await customer(res)
    r = await hold(client, event["id"], me, seat_ids=[seat], ticket_type="Pista")
    assert r.status_code == 422
    assert r.json()["error"] == "ticket_type_mismatch" and r.json()["field"] == "ticket_type"
    assert await res.pool.fetchval("SELECT count(*) FROM holds") == 0
    r = await hold(client, event["id"], me, seat_ids=[seat], ticket_type="Cadeira")
    assert r.status_code == 201 and r.json()["tickets"][0]["section"] == "Cadeira"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"sales_open_at": "2026-06-02T00:00:00Z", "sales_close_at": "2026-06-01T00:00:00Z"},
            "sales_close_at",
        ),
        ({"sales_open_at": "2199-01-01T00:00:00Z"}, "sales_open_at"),
        ({"max_per_customer": 0}, None),
    ],
)
async def test_bad_type_terms_are_400(
    res: Resources,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    change: dict[str, Any],
    field: str | None,
) -> None:
    body = {"name": "Festival", "starts_at": LATER, "sections": [PISTA, VIP | change]}
    r = await client.post("/api/events", json=body, headers=admin)
    assert r.status_code == 400, r.text
    if field is not None:
        assert r.json()["field"] == f"sections[1].{field}"
    assert await res.pool.fetchval("SELECT count(*) FROM events") == 0


async def test_orders_and_any_claims_skip_types_with_their_own_limit(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The order worker claims any ticket: never one of a type sold only by naming it."""
    event = await create_event(client, admin, VIP | {"max_per_customer": 1}, PISTA | {"capacity": 2})
    event_id = uuid.UUID(event["id"])
    async with res.pool.acquire() as conn, conn.transaction():
        assert await inventory.count_available(conn, event_id=event_id) == 2
        rows = await inventory.claim_up_to(conn, event_id=event_id, quantity=5)
        assert {r["section"] for r in rows} == {"Pista"} and len(rows) == 2


async def test_the_invariant_check_counts_per_type(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A ticket moved from VIP to Pista leaves the event's totals right; the per-type check sees it."""
    event = await create_event(client, admin, PISTA, VIP | {"max_per_customer": 1}, max_per_customer=4)
    event_id = uuid.UUID(event["id"])
    async with res.pool.acquire() as conn:
        assert (await check_invariants(conn)).ok
        await conn.execute(
            "UPDATE tickets SET section = 'Pista' WHERE id = (SELECT id FROM tickets"
            " WHERE event_id = $1 AND section = 'VIP' LIMIT 1)",
            event_id,
        )
        check = await check_invariants(conn)
    assert not check.ok
    assert {(v["check"], v["ticket_type"], v["capacity"]) for v in check.violations} == {
        ("type_stock_adds_up", "Pista", 50),
        ("type_stock_adds_up", "VIP", 10),
    }


async def test_the_live_counters_are_per_type(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    event = await create_event(client, admin)
    me = await customer(res)
    assert (await hold(client, event["id"], me, quantity=1, ticket_type="VIP")).status_code == 201
    async with res.pool.acquire() as conn:
        message = await live.current_stock(conn, res.redis, event_id=uuid.UUID(event["id"]))
    assert message.types is not None
    assert [(t.name, t.held, t.available) for t in message.types] == [("Pista", 0, 50), ("VIP", 1, 9)]
    assert (message.held, message.available) == (1, 59)


async def test_the_organizer_changes_a_type_s_window_and_limit(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    event = await create_event(client, admin, max_per_customer=4)
    url = f"/api/events/{event['id']}"
    later = (NOW + dt.timedelta(days=3)).replace(microsecond=0)
    r = await client.patch(
        url,
        json={"ticket_types": [{"name": "VIP", "sales_open_at": later.isoformat(), "max_per_customer": 1}]},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    vip = next(t for t in r.json()["ticket_types"] if t["name"] == "VIP")
    assert (vip["on_sale"], vip["max_per_customer"]) == (False, 1)
    assert dt.datetime.fromisoformat(vip["sales_open_at"]) == later
    me = await customer(res)
    # The order gate knows the new window at once.
    r = await client.post(
        "/api/orders",
        json={"event_id": event["id"], "payment_method": "pm_card_visa", "ticket_type": "VIP"},
        headers=auth(me) | {"Idempotency-Key": "k-vip"},
    )
    assert r.status_code == 409 and r.json()["error"] == "not_on_sale"
    r = await hold(client, event["id"], me, quantity=1, ticket_type="VIP")
    assert r.status_code == 409 and r.json()["error"] == "not_on_sale"
    # Back to the event's window (null); the limit stays.
    r = await client.patch(
        url, json={"ticket_types": [{"name": "VIP", "sales_open_at": None}]}, headers=admin
    )
    assert r.status_code == 200
    assert (await hold(client, event["id"], me, quantity=1, ticket_type="VIP")).status_code == 201
    r = await hold(client, event["id"], me, quantity=1, ticket_type="VIP")
    assert r.status_code == 409 and r.json()["error"] == "limit_reached"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"name": "Camarote", "max_per_customer": 2}, 422, "ticket_types[0].name"),
        ({"name": "VIP", "sales_open_at": "2026-06-02T00:00:00Z", "sales_close_at": "2026-06-01T00:00:00Z"},
         400, "ticket_types[0].sales_close_at"),
    ],
)  # fmt: skip
async def test_a_bad_type_change_is_refused_and_changes_nothing(
    res: Resources,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    event = await create_event(client, admin)
    r = await client.patch(
        f"/api/events/{event['id']}", json={"name": "Renamed", "ticket_types": [change]}, headers=admin
    )
    assert (r.status_code, r.json()["field"]) == (status, field)
    after = (await client.get(f"/api/events/{event['id']}")).json()
    assert after["name"] == "Festival"
    assert [t["sales_open_at"] for t in after["ticket_types"]] == [None, None]


async def test_half_price_stays_per_type(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    event = await create_event(client, admin, max_per_customer=4, half_price=True)
    me = await customer(res)
    r = await hold(client, event["id"], me, quantity=2, ticket_type="VIP", half_price=1)
    assert r.status_code == 201, r.text
    assert sorted(t["price_cents"] for t in r.json()["tickets"]) == [15000, 30000]
    assert r.json()["total_cents"] == 45000


async def test_a_type_window_narrows_the_event_s(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A type opening before the event's sale still waits for it: shown and sold alike."""
    event_opens = (NOW + dt.timedelta(days=2)).isoformat()
    early = (NOW - dt.timedelta(days=1)).isoformat()
    event = await create_event(
        client, admin, PISTA, VIP | {"sales_open_at": early}, sales_open_at=event_opens
    )
    assert [t["on_sale"] for t in event["ticket_types"]] == [False, False]
    me = await customer(res)
    r = await hold(client, event["id"], me, quantity=1, ticket_type="VIP")
    assert r.status_code == 409 and r.json()["error"] == "not_on_sale"


async def test_one_idempotency_key_is_one_type(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    event = await create_event(client, admin, max_per_customer=4)
    me = await customer(res)
    url, key = f"/api/events/{event['id']}/holds", {"Idempotency-Key": "one-key"}
    first = await client.post(url, json={"quantity": 1, "ticket_type": "VIP"}, headers=auth(me) | key)
    again = await client.post(url, json={"ticket_type": "VIP", "quantity": 1}, headers=auth(me) | key)
    assert (first.status_code, again.content) == (201, first.content)
    other = await client.post(url, json={"quantity": 1, "ticket_type": "Pista"}, headers=auth(me) | key)
    untyped = await client.post(url, json={"quantity": 1}, headers=auth(me) | key)
    assert (other.status_code, untyped.status_code) == (422, 422)
    assert await res.pool.fetchval("SELECT count(*) FROM holds") == 1

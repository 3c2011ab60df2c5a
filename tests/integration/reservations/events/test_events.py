"""Events of the product API: creation (general admission and seated), reading, listing,
status and the seat map."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from core.auth import issue_customer_token
from core.config import Settings
from core.resources import Resources
from reservations.errors import EventNotFound
from reservations.events.schemas import Event
from reservations.events.service import get_event
from tests.factories import hold_rows, make_customer, make_event, stock_counts

NOW = dt.datetime.now(dt.UTC)
LATER = (NOW + dt.timedelta(days=20)).isoformat()


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}


async def create(client: httpx.AsyncClient, admin: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/events", json={"name": "Evento", "starts_at": LATER} | body, headers=admin)


async def test_create_general_admission_event(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    r = await create(
        client,
        admin,
        name="Pista Livre",
        venue="Arena",
        capacity=250,
        price_cents=4500,
        max_per_customer=4,
        hold_ttl_s=120,
        half_price=True,
        waiting_room={"enabled": True, "admission_factor": 1.5, "prequeue": "lottery", "max_admit_per_s": 30},
    )
    assert r.status_code == 201
    event = r.json()
    eid = uuid.UUID(event["id"])
    assert event["name"] == "Pista Livre"
    assert (event["capacity"], event["price_cents"], event["seated"], event["sections"]) == (
        250,
        4500,
        False,
        [],
    )
    assert (event["max_per_customer"], event["hold_ttl_s"], event["half_price"]) == (4, 120, True)
    assert event["waiting_room"] == {
        "enabled": True,
        "admission_factor": 1.5,
        "prequeue": "lottery",
        "max_admit_per_s": 30,
        "paused": False,
    }
    assert event["live"] == {"capacity": 250, "sold": 0, "held": 0, "available": 250, "status": "on_sale"}
    rows = await res.pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT price_cents) AS prices, count(section) AS labelled,"
        " min(price_cents) AS price FROM tickets WHERE event_id = $1",
        eid,
    )
    assert dict(rows) == {"n": 250, "prices": 1, "labelled": 0, "price": 4500}
    stored = await res.pool.fetchrow(
        "SELECT e.waiting_room, w.prequeue, w.admission_factor"
        " FROM events e JOIN waiting_rooms w ON w.event_id = e.id WHERE e.id = $1",
        eid,
    )
    assert (stored["waiting_room"], stored["prequeue"], stored["admission_factor"]) == (True, "lottery", 1.5)


async def test_create_seated_event_generates_labelled_rows(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    sections = [
        {"name": "VIP", "price_cents": 30000, "rows": 2, "seats_per_row": 3},
        {"name": "Pista", "price_cents": 9000, "capacity": 10},
        {"name": "Galeria", "price_cents": 5000, "rows": 28, "seats_per_row": 1},
    ]
    r = await create(client, admin, sections=sections)
    assert r.status_code == 201
    event = r.json()
    eid = uuid.UUID(event["id"])
    assert event["capacity"] == 6 + 10 + 28
    assert event["seated"] is True
    assert event["price_cents"] == 5000  # the cheapest section: "from" price
    assert event["sections"] == [
        {"name": "VIP", "price_cents": 30000, "capacity": 6},
        {"name": "Pista", "price_cents": 9000, "capacity": 10},
        {"name": "Galeria", "price_cents": 5000, "capacity": 28},
    ]
    vip = await res.pool.fetch(
        "SELECT row_label, seat_number, price_cents FROM tickets WHERE event_id = $1 AND section = 'VIP'"
        " ORDER BY row_label, seat_number",
        eid,
    )
    assert [(t["row_label"], t["seat_number"]) for t in vip] == [
        ("A", 1),
        ("A", 2),
        ("A", 3),
        ("B", 1),
        ("B", 2),
        ("B", 3),
    ]
    assert {t["price_cents"] for t in vip} == {30000}
    pista = await res.pool.fetchrow(
        "SELECT count(*) AS n, count(row_label) AS labelled FROM tickets"
        " WHERE event_id = $1 AND section = 'Pista'",
        eid,
    )
    assert dict(pista) == {"n": 10, "labelled": 0}
    galeria = await res.pool.fetch(
        "SELECT row_label FROM tickets WHERE event_id = $1 AND section = 'Galeria'", eid
    )
    labels = {t["row_label"] for t in galeria}
    assert {"A", "Z", "AA", "AB"} <= labels
    assert len(labels) == 28
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, eid))["AVAILABLE"] == 44


async def test_only_the_organizer_creates_events(res: Resources, client: httpx.AsyncClient) -> None:
    body = {"name": "X", "starts_at": LATER, "capacity": 1, "price_cents": 1}
    r = await client.post("/api/events", json=body)
    assert (r.status_code, r.json()["error"]) == (401, "unauthorized")
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
    token = issue_customer_token(customer)
    r = await client.post("/api/events", json=body, headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    # The guard answers before the body is read: no hint about the body to an anonymous caller.
    assert (await client.post("/api/events", content=b"{")).status_code == 401
    assert await res.pool.fetchval("SELECT count(*) FROM events") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_cents": 100}, "capacity"),
        ({"capacity": 10}, "price_cents"),
        (
            {"capacity": 10, "price_cents": 1, "sections": [{"name": "A", "price_cents": 1, "capacity": 1}]},
            "capacity",
        ),
        ({"price_cents": 1, "sections": [{"name": "A", "price_cents": 1, "capacity": 1}]}, "price_cents"),
        ({"capacity": 200_001, "price_cents": 1}, "capacity"),
        ({"capacity": 0, "price_cents": 1}, "capacity"),
        ({"capacity": "10", "price_cents": 1}, "capacity"),
        ({"capacity": 10, "price_cents": -1}, "price_cents"),
        ({"sections": []}, "sections"),
        ({"sections": [{"name": "A", "price_cents": 1}]}, "sections[0].rows"),
        ({"sections": [{"name": "A", "price_cents": 1, "rows": 2}]}, "sections[0].seats_per_row"),
        (
            {"sections": [{"name": "A", "price_cents": 1, "capacity": 2, "rows": 1, "seats_per_row": 2}]},
            "sections[0]",
        ),
        (
            {
                "sections": [
                    {"name": "A", "price_cents": 1, "capacity": 1},
                    {"name": " A ", "price_cents": 1, "capacity": 1},
                ]
            },
            "sections[1].name",
        ),
        (
            {"sections": [{"name": "A", "price_cents": 1, "rows": 703, "seats_per_row": 1}]},
            "sections[0].rows",
        ),
        ({"sections": [{"name": "A", "price_cents": 1, "rows": 500, "seats_per_row": 401}]}, "sections"),
        ({"sections": [{"name": "A", "price_cents": 1, "capacity": 1, "color": "red"}]}, "sections[0].color"),
        ({"capacity": 1, "price_cents": 1, "starts_at": "2027-01-01T00:00:00"}, "starts_at"),
        ({"capacity": 1, "price_cents": 1, "starts_at": "tomorrow"}, "starts_at"),
        ({"capacity": 1, "price_cents": 1, "sales_open_at": "2099-01-01T00:00:00Z"}, "sales_open_at"),
        ({"capacity": 1, "price_cents": 1, "max_per_customer": 0}, "max_per_customer"),
        ({"capacity": 1, "price_cents": 1, "hold_ttl_s": 4}, "hold_ttl_s"),
        ({"capacity": 1, "price_cents": 1, "half_price": "yes"}, "half_price"),
        ({"capacity": 1, "price_cents": 1, "waiting_room": {"enabled": 1}}, "waiting_room.enabled"),
        ({"capacity": 1, "price_cents": 1, "waiting_room": {"prequeue": "random"}}, "waiting_room.prequeue"),
        (
            {"capacity": 1, "price_cents": 1, "waiting_room": {"admission_factor": 0}},
            "waiting_room.admission_factor",
        ),
        ({"capacity": 1, "price_cents": 1, "name": ""}, "name"),
        ({"capacity": 1, "price_cents": 1, "venue": "x\u0000y"}, "venue"),
    ],
)
async def test_create_event_refuses_bad_bodies(
    res: Resources, client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    r = await create(client, admin, **body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_input"
    assert r.json()["field"] == field
    assert await res.pool.fetchval("SELECT count(*) FROM events") == 0
    assert await res.pool.fetchval("SELECT count(*) FROM tickets") == 0


async def test_get_event_module_function(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, capacity=7, price_cents=700, name="Row", max_per_customer=3)
        event = await get_event(conn, event_id=eid)
        with pytest.raises(EventNotFound):
            await get_event(conn, event_id=uuid.uuid4())
    assert isinstance(event, Event)
    assert (event.id, event.name, event.capacity, event.price_cents, event.max_per_customer) == (
        eid,
        "Row",
        7,
        700,
        3,
    )


async def test_event_detail_follows_the_stock(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        # A purchase on the challenge face is a booked ticket on the product face.
        eid = await make_event(conn, capacity=2, price_cents=100, face="challenge")
        a, b = await make_customer(conn, face="challenge"), await make_customer(conn, face="challenge")
    live = (await client.get(f"/api/events/{eid}")).json()["live"]
    assert live == {"capacity": 2, "sold": 0, "held": 0, "available": 2, "status": "on_sale"}
    for buyer in (a, b):
        assert (
            await client.post("/compras", json={"cliente_id": str(buyer), "evento_id": str(eid)})
        ).status_code == 201
    live = (await client.get(f"/api/events/{eid}")).json()["live"]
    assert live == {"capacity": 2, "sold": 2, "held": 0, "available": 0, "status": "sold_out"}

    r = await client.get(f"/api/events/{uuid.uuid4()}")
    assert (r.status_code, r.json()["error"]) == (404, "event_not_found")
    r = await client.get("/api/events/nope")
    assert (r.status_code, r.json()["field"]) == (400, "event_id")


async def _statuses(res: Resources) -> dict[str, uuid.UUID]:
    """One event in each status."""
    async with res.pool.acquire() as conn:
        on_sale = await make_event(conn, capacity=3, name="on sale")
        scheduled = await make_event(conn, name="scheduled", sales_open_at=NOW + dt.timedelta(days=2))
        sold_out = await make_event(conn, capacity=1, name="sold out")
        closed = await make_event(conn, name="closed")
        past = await make_event(conn, name="past")
        await conn.execute("UPDATE events SET closed = true WHERE id = $1", closed)
        await conn.execute("UPDATE events SET starts_at = now() - interval '1 day' WHERE id = $1", past)
        await conn.execute("UPDATE events SET starts_at = now() + interval '40 days' WHERE id = $1", on_sale)
        buyer = await make_customer(conn)
        await conn.execute(
            "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE event_id = $1", sold_out, buyer
        )
    return {"on_sale": on_sale, "scheduled": scheduled, "sold_out": sold_out, "closed": closed, "past": past}


async def test_list_events_by_start_and_status(res: Resources, client: httpx.AsyncClient) -> None:
    ids = await _statuses(res)
    r = await client.get("/api/events")
    assert r.status_code == 200
    listed = r.json()
    assert listed[0]["id"] == str(ids["past"])
    assert listed[-1]["id"] == str(ids["on_sale"])
    starts = [e["starts_at"] for e in listed]
    assert starts == sorted(starts)
    by_id = {e["id"]: e["live"]["status"] for e in listed}
    assert by_id == {
        str(ids["on_sale"]): "on_sale",
        str(ids["scheduled"]): "scheduled",
        str(ids["sold_out"]): "sold_out",
        str(ids["closed"]): "closed",
        str(ids["past"]): "closed",
    }
    for status in ("on_sale", "scheduled", "sold_out"):
        only = (await client.get("/api/events", params={"status": status})).json()
        assert [e["id"] for e in only] == [str(ids[status])]
    closed = (await client.get("/api/events?status=closed")).json()
    assert {e["id"] for e in closed} == {str(ids["closed"]), str(ids["past"])}
    assert len((await client.get("/api/events?limit=2")).json()) == 2


async def test_list_events_between_dates(res: Resources, client: httpx.AsyncClient) -> None:
    ids = await _statuses(res)
    day = (NOW + dt.timedelta(days=40)).date().isoformat()
    only = (await client.get("/api/events", params={"from": day, "to": day})).json()
    assert [e["id"] for e in only] == [str(ids["on_sale"])]
    upcoming = (await client.get("/api/events", params={"from": NOW.isoformat()})).json()
    assert str(ids["past"]) not in {e["id"] for e in upcoming}
    assert len(upcoming) == 4
    before = (await client.get("/api/events", params={"to": NOW.isoformat()})).json()
    assert [e["id"] for e in before] == [str(ids["past"])]


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=open", "status"), ("from=yesterday", "from"), ("to=2027-02-30", "to"), ("limit=0", "limit")],
)
async def test_list_events_bad_filters(
    res: Resources, client: httpx.AsyncClient, query: str, field: str
) -> None:
    r = await client.get(f"/api/events?{query}")
    assert r.status_code == 400
    assert r.json()["field"] == field


async def test_seat_map(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        eid = await make_event(
            conn,
            sections=[
                {"name": "Frente", "price_cents": 9000, "rows": 2, "seats_per_row": 2},
                {"name": "Fundo", "price_cents": 4000, "rows": 1, "seats_per_row": 2},
            ],
        )
        buyer = await make_customer(conn)
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM tickets WHERE event_id = $1", eid)]
        frente_a1 = await conn.fetchval(
            "SELECT id FROM tickets WHERE event_id = $1 AND section = 'Frente' AND row_label = 'A'"
            " AND seat_number = 1",
            eid,
        )
        fundo_a2 = await conn.fetchval(
            "SELECT id FROM tickets WHERE event_id = $1 AND section = 'Fundo' AND seat_number = 2", eid
        )
        await hold_rows(conn, event_id=eid, customer_id=buyer, ticket_ids=[frente_a1])
        await conn.execute(
            "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE id = $1", fundo_a2, buyer
        )
    r = await client.get(f"/api/events/{eid}/seats")
    assert r.status_code == 200
    seats = r.json()
    assert len(seats) == len(ids) == 6
    assert [(s["section"], s["row"], s["number"]) for s in seats] == [
        ("Frente", "A", 1),
        ("Frente", "A", 2),
        ("Frente", "B", 1),
        ("Frente", "B", 2),
        ("Fundo", "A", 1),
        ("Fundo", "A", 2),
    ]
    assert [s["status"] for s in seats] == [
        "held",
        "available",
        "available",
        "available",
        "available",
        "sold",
    ]
    assert seats[0]["id"] == str(frente_a1)
    assert {s["price_cents"] for s in seats[4:]} == {4000}

    fundo = (await client.get(f"/api/events/{eid}/seats?section=Fundo")).json()
    assert [s["number"] for s in fundo] == [1, 2]


async def test_seat_map_of_general_admission_is_empty_and_unknown_404(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, capacity=5)
    assert (await client.get(f"/api/events/{eid}/seats")).json() == []
    r = await client.get(f"/api/events/{uuid.uuid4()}/seats")
    assert r.status_code == 404
    r = await client.get("/api/events/x/seats")
    assert (r.status_code, r.json()["field"]) == (400, "event_id")

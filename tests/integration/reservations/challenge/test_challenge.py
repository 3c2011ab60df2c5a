"""The challenge contract (API.md section 1), path by path and code by code."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import msgspec
import pytest

from core.resources import Resources
from reservations.seed import client_id, event_id, seed
from tests.factories import make_customer, make_customers, make_event, stock_counts

ROCK, VERAO, JAZZ = event_id(1), event_id(2), event_id(3)


async def table_counts(res: Resources) -> dict[str, int]:
    tables = ("customers", "events", "sections", "tickets", "purchases", "allowances")
    return {t: await res.pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}  # noqa: S608


async def buy(client: httpx.AsyncClient, cliente: uuid.UUID, evento: uuid.UUID) -> httpx.Response:
    return await client.post("/compras", json={"cliente_id": str(cliente), "evento_id": str(evento)})


# --- seed ------------------------------------------------------------------------------


async def test_seeded_sample_events_are_exactly_the_contracts(
    seeded: Resources, client: httpx.AsyncClient
) -> None:
    expected = {
        ROCK: ("Show de Rock", "2025-08-15T20:00:00Z", 100, 5000, 0),
        VERAO: ("Festival de Verão", "2025-07-20T18:00:00Z", 500, 7500, 0),
        JAZZ: ("Concerto de Jazz", "2025-09-10T19:30:00Z", 50, 12000, 45),
    }
    for eid, (nome, data, capacidade, preco, vendidos) in expected.items():
        r = await client.get(f"/eventos/{eid}")
        assert r.status_code == 200
        assert r.json() == {
            "id": str(eid),
            "nome": nome,
            "data": data,
            "capacidade": capacidade,
            "preco": preco,
            "ingressos_vendidos": vendidos,
            "ingressos_disponiveis": capacidade - vendidos,
            "status": "disponivel",
        }
    for n in (4, 5):
        assert (await client.get(f"/eventos/{event_id(n)}")).status_code == 200


async def test_seeded_jazz_sales_are_real_purchases(seeded: Resources) -> None:
    async with seeded.pool.acquire() as conn:
        counts = await stock_counts(conn, JAZZ)
        purchases = await conn.fetch("SELECT customer_id, ticket_id FROM purchases WHERE event_id = $1", JAZZ)
        allowances = await conn.fetchval(
            "SELECT count(*) FROM allowances WHERE event_id = $1 AND taken = 1", JAZZ
        )
    assert counts == {"AVAILABLE": 5, "IN_PROGRESS": 0, "BOOKED": 45, "capacity": 50}
    assert len(purchases) == 45
    assert len({p["customer_id"] for p in purchases}) == 45
    assert len({p["ticket_id"] for p in purchases}) == 45
    assert allowances == 45


async def test_seed_has_five_fixed_clients_and_demo_events(
    seeded: Resources, client: httpx.AsyncClient
) -> None:
    for n in range(1, 6):
        r = await client.get(f"/clientes/{client_id(n)}")
        assert r.status_code == 200
        assert r.json()["compras"] == []
    seated = await seeded.pool.fetchrow("SELECT * FROM events WHERE seated AND half_price")
    assert seated is not None
    assert await seeded.pool.fetchval("SELECT count(*) FROM sections WHERE event_id = $1", seated["id"]) >= 2
    room = await seeded.pool.fetchrow("SELECT * FROM events WHERE waiting_room")
    assert room is not None
    assert room["sales_open_at"] < dt.datetime.now(dt.UTC)
    assert await seeded.pool.fetchval("SELECT count(*) FROM events WHERE id::text LIKE '550e8400%'") == 5
    assert await seeded.pool.fetchval(
        "SELECT bool_and(max_per_customer = 1) FROM events WHERE id::text LIKE '550e8400%'"
    )


async def test_seed_twice_changes_nothing(seeded: Resources) -> None:
    before = await table_counts(seeded)
    snapshot = await seeded.pool.fetch("SELECT id, status, customer_id FROM tickets ORDER BY id")
    async with seeded.pool.acquire() as conn:
        await seed(conn)
    assert await table_counts(seeded) == before
    assert await seeded.pool.fetch("SELECT id, status, customer_id FROM tickets ORDER BY id") == snapshot


# --- POST /clientes ----------------------------------------------------------------------


async def test_create_cliente(res: Resources, client: httpx.AsyncClient) -> None:
    body = {"nome": "Joana Prado", "email": "joana@example.com", "cpf": "52998224725"}
    r = await client.post("/clientes", json=body)
    assert r.status_code == 201
    data = r.json()
    assert uuid.UUID(data.pop("id"))
    assert data == body
    assert await res.pool.fetchval("SELECT count(*) FROM customers WHERE cpf = '52998224725'") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "cpf": "52998224725"}, "nome"),
        ({"nome": "A", "cpf": "52998224725"}, "email"),
        ({"nome": "A", "email": "a@example.com"}, "cpf"),
        ({"nome": "A", "email": "a@example.com", "cpf": "529.982.247-25"}, "cpf"),
        ({"nome": "A", "email": "a@example.com", "cpf": "5299822472"}, "cpf"),
        ({"nome": "A", "email": "a@example.com", "cpf": "5299822472x"}, "cpf"),
        ({"nome": "A", "email": "a@example.com", "cpf": 52998224725}, "cpf"),
        ({"nome": "A", "email": "not-an-email", "cpf": "52998224725"}, "email"),
        ({"nome": "A", "email": "a @example.com", "cpf": "52998224725"}, "email"),
        ({"nome": "   ", "email": "a@example.com", "cpf": "52998224725"}, "nome"),
        ({"nome": "", "email": "a@example.com", "cpf": "52998224725"}, "nome"),
        ({"nome": 7, "email": "a@example.com", "cpf": "52998224725"}, "nome"),
    ],
)
async def test_create_cliente_refuses_bad_bodies(
    res: Resources, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await client.post("/clientes", json=body)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input"
    assert r.json()["field"] == field
    assert await res.pool.fetchval("SELECT count(*) FROM customers") == 0


# --- POST /eventos, GET /eventos/:id -----------------------------------------------------


async def test_create_evento(res: Resources, client: httpx.AsyncClient) -> None:
    body = {"nome": "Samba na Praça", "data": "2027-02-10T21:00:00Z", "capacidade": 30, "preco": 2500}
    r = await client.post("/eventos", json=body)
    assert r.status_code == 201
    data = r.json()
    eid = uuid.UUID(data.pop("id"))
    assert data == body | {"ingressos_vendidos": 0, "ingressos_disponiveis": 30, "status": "disponivel"}
    async with res.pool.acquire() as conn:
        assert await stock_counts(conn, eid) == {
            "AVAILABLE": 30,
            "IN_PROGRESS": 0,
            "BOOKED": 0,
            "capacity": 30,
        }
        assert await conn.fetchval("SELECT max_per_customer FROM events WHERE id = $1", eid) == 1
    assert (await client.get(f"/eventos/{eid}")).json() == r.json()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("2027-02-10", "2027-02-10T00:00:00Z"),
        ("2027-02-10T21:00:00-03:00", "2027-02-11T00:00:00Z"),
        ("2027-02-10T21:00:00", "2027-02-10T21:00:00Z"),
        ("2027-02-10T21:00:00.500Z", "2027-02-10T21:00:00.500000Z"),
    ],
)
async def test_create_evento_accepts_iso_8601_forms(
    client: httpx.AsyncClient, data: str, expected: str
) -> None:
    r = await client.post("/eventos", json={"nome": "X", "data": data, "capacidade": 1, "preco": 1})
    assert r.status_code == 201
    assert r.json()["data"] == expected


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"capacidade": 0}, "capacidade"),
        ({"capacidade": -5}, "capacidade"),
        ({"capacidade": 1.5}, "capacidade"),
        ({"capacidade": "10"}, "capacidade"),
        ({"capacidade": 200_001}, "capacidade"),
        ({"preco": 0}, "preco"),
        ({"preco": -1}, "preco"),
        ({"preco": "5000"}, "preco"),
        ({"preco": True}, "preco"),
        ({"data": "15/08/2025"}, "data"),
        ({"data": "2025-13-01"}, "data"),
        ({"data": "amanhã"}, "data"),
        ({"data": 20250815}, "data"),
        ({"nome": None}, "nome"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_create_evento_refuses_bad_bodies(
    res: Resources, client: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    body = {"nome": "X", "data": "2027-01-01T00:00:00Z", "capacidade": 10, "preco": 100} | patch
    r = await client.post("/eventos", json=body)
    assert r.status_code == 400
    assert r.json()["field"] == field
    assert await table_counts(res) == dict.fromkeys(await table_counts(res), 0)  # nothing written


async def test_get_evento_unknown_is_404_and_bad_id_400(res: Resources, client: httpx.AsyncClient) -> None:
    r = await client.get(f"/eventos/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.json()["error"] == "event_not_found"
    r = await client.get("/eventos/not-a-uuid")
    assert r.status_code == 400
    assert r.json()["field"] == "id"


async def test_get_evento_says_esgotado_when_nothing_is_left(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, face="challenge", capacity=1, price_cents=900)
        buyer = await make_customer(conn, face="challenge")
    assert (await buy(client, buyer, eid)).status_code == 201
    r = await client.get(f"/eventos/{eid}")
    assert r.json()["status"] == "esgotado"
    assert (r.json()["ingressos_vendidos"], r.json()["ingressos_disponiveis"]) == (1, 0)


# --- POST /compras -------------------------------------------------------------------------


async def test_compra_is_confirmed_and_visible_everywhere(
    seeded: Resources, client: httpx.AsyncClient
) -> None:
    cliente = client_id(2)
    r = await buy(client, cliente, ROCK)
    assert r.status_code == 201
    compra = r.json()
    assert uuid.UUID(compra["id"])
    assert compra["cliente_id"] == str(cliente)
    assert compra["evento_id"] == str(ROCK)
    assert compra["valor"] == 5000
    assert compra["status"] == "confirmada"
    assert dt.datetime.fromisoformat(compra["data_compra"]) <= dt.datetime.now(dt.UTC)

    evento = (await client.get(f"/eventos/{ROCK}")).json()
    assert (evento["ingressos_vendidos"], evento["ingressos_disponiveis"]) == (1, 99)

    cli = (await client.get(f"/clientes/{cliente}")).json()
    assert cli["id"] == str(cliente)
    assert cli["nome"] == "Maria Santos"
    assert cli["compras"] == [
        {
            "id": compra["id"],
            "evento_id": str(ROCK),
            "evento_nome": "Show de Rock",
            "valor": 5000,
            "data_compra": compra["data_compra"],
            "status": "confirmada",
        }
    ]
    ticket = await seeded.pool.fetchrow(
        "SELECT t.status, t.customer_id FROM purchases p JOIN tickets t ON t.id = p.ticket_id"
        " WHERE p.id = $1",
        uuid.UUID(compra["id"]),
    )
    assert dict(ticket) == {"status": "BOOKED", "customer_id": cliente}


async def test_second_compra_of_one_client_is_409(seeded: Resources, client: httpx.AsyncClient) -> None:
    assert (await buy(client, client_id(1), VERAO)).status_code == 201
    r = await buy(client, client_id(1), VERAO)
    assert r.status_code == 409
    assert r.json()["error"] == "limit_reached"
    assert (
        await seeded.pool.fetchval(
            "SELECT count(*) FROM purchases WHERE customer_id = $1 AND event_id = $2", client_id(1), VERAO
        )
        == 1
    )


async def test_sold_out_is_422_and_leaves_nothing_behind(
    seeded: Resources, client: httpx.AsyncClient
) -> None:
    for n in range(1, 6):
        assert (await buy(client, client_id(n), JAZZ)).status_code == 201
    async with seeded.pool.acquire() as conn:
        late = await make_customer(conn, face="challenge")
    before = await table_counts(seeded)
    r = await buy(client, late, JAZZ)
    assert r.status_code == 422
    assert r.json()["error"] == "sold_out"
    assert await table_counts(seeded) == before  # no allowance row was left for the late client
    assert (await client.get(f"/eventos/{JAZZ}")).json()["status"] == "esgotado"


async def test_unknown_client_or_event_is_404_checked_first(
    seeded: Resources, client: httpx.AsyncClient
) -> None:
    r = await buy(client, uuid.uuid4(), ROCK)
    assert (r.status_code, r.json()["error"], r.json()["field"]) == (404, "customer_not_found", "cliente_id")
    r = await buy(client, client_id(1), uuid.uuid4())
    assert (r.status_code, r.json()["error"]) == (404, "event_not_found")
    r = await buy(client, uuid.uuid4(), uuid.uuid4())
    assert r.status_code == 404
    # Checked before the limit and the stock: a sold-out event still answers 404 for a stranger.
    async with seeded.pool.acquire() as conn:
        full = await make_event(conn, face="challenge", capacity=1)
        owner = await make_customer(conn, face="challenge")
    assert (await buy(client, owner, full)).status_code == 201
    assert (await buy(client, uuid.uuid4(), full)).status_code == 404
    assert await seeded.pool.fetchval("SELECT count(*) FROM purchases WHERE event_id = $1", ROCK) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "cliente_id"),
        ({"cliente_id": str(client_id(1))}, "evento_id"),
        ({"evento_id": str(ROCK)}, "cliente_id"),
        ({"cliente_id": "abc", "evento_id": str(ROCK)}, "cliente_id"),
        ({"cliente_id": str(client_id(1)), "evento_id": 42}, "evento_id"),
        ({"cliente_id": None, "evento_id": str(ROCK)}, "cliente_id"),
        ({"cliente_id": str(client_id(1)), "evento_id": str(ROCK), "quantidade": 2}, "quantidade"),
    ],
)
async def test_compra_bad_body_is_400(
    seeded: Resources, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await client.post("/compras", json=body)
    assert r.status_code == 400
    assert r.json()["field"] == field
    assert await seeded.pool.fetchval("SELECT count(*) FROM purchases WHERE event_id = $1", ROCK) == 0


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'{"cliente_id": }', b"cliente_id=1"])
async def test_compra_malformed_json_is_400(seeded: Resources, client: httpx.AsyncClient, raw: bytes) -> None:
    r = await client.post("/compras", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input"


async def test_compra_refuses_events_not_sold_here(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn, face="challenge")
        room = await make_event(conn, face="challenge", waiting_room=True)
        later = await make_event(
            conn, face="challenge", sales_open_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        )
    for eid in (room, later):
        r = await buy(client, buyer, eid)
        assert r.status_code == 422
        assert r.json()["error"] == "not_on_sale"
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 0


async def test_compra_gives_up_with_503_when_a_lock_is_held_too_long(
    res: Resources, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reservations.challenge import service as challenge

    short = msgspec.structs.replace(challenge.get_settings(), lock_timeout_ms=200)
    monkeypatch.setattr(challenge, "get_settings", lambda: short)
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn, face="challenge")
        eid = await make_event(conn, face="challenge", capacity=5, max_per_customer=2)
    async with res.pool.acquire() as blocker:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(
            "INSERT INTO allowances (customer_id, event_id, taken) VALUES ($1, $2, 1)", buyer, eid
        )
        try:
            r = await asyncio.wait_for(buy(client, buyer, eid), timeout=5)
        finally:
            await tx.rollback()
    assert r.status_code == 503
    assert r.json()["error"] == "busy"
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 0
    assert (await buy(client, buyer, eid)).status_code == 201


# --- GET /clientes/:id ---------------------------------------------------------------------


async def test_get_cliente_unknown_is_404_and_bad_id_400(res: Resources, client: httpx.AsyncClient) -> None:
    r = await client.get(f"/clientes/{uuid.uuid4()}")
    assert (r.status_code, r.json()["error"]) == (404, "customer_not_found")
    r = await client.get("/clientes/123")
    assert (r.status_code, r.json()["field"]) == (400, "id")


# --- GET /compras ----------------------------------------------------------------------------


async def test_compras_pages_newest_first(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        buyers = await make_customers(conn, 25, face="challenge")
        eid = await make_event(conn, face="challenge", capacity=30, price_cents=1234, name="Paginado")
    made = []
    for b in buyers:
        r = await buy(client, b, eid)
        assert r.status_code == 201
        made.append(r.json()["id"])
    newest_first = made[::-1]

    r = await client.get("/compras")
    page = r.json()
    assert r.status_code == 200
    assert (page["total"], page["pagina"], page["limite"]) == (25, 1, 10)
    assert [c["id"] for c in page["compras"]] == newest_first[:10]
    first = page["compras"][0]
    last_name = await res.pool.fetchval("SELECT name FROM customers WHERE id = $1", buyers[-1])
    assert first["cliente"] == {"id": str(buyers[-1]), "nome": last_name}
    assert first["evento"] == {"id": str(eid), "nome": "Paginado"}
    assert first["valor"] == 1234
    assert set(first) == {"id", "cliente", "evento", "valor", "data_compra"}

    page3 = (await client.get("/compras?limite=10&pagina=3")).json()
    assert [c["id"] for c in page3["compras"]] == newest_first[20:]
    assert page3["total"] == 25
    page2 = (await client.get("/compras", params={"limite": 7, "pagina": 2})).json()
    assert [c["id"] for c in page2["compras"]] == newest_first[7:14]
    beyond = (await client.get("/compras?limite=100&pagina=2")).json()
    assert (beyond["total"], beyond["compras"]) == (25, [])
    assert len((await client.get("/compras?limite=100")).json()["compras"]) == 25


async def test_compras_on_an_empty_database(res: Resources, client: httpx.AsyncClient) -> None:
    r = await client.get("/compras?limite=1&pagina=1")
    assert r.json() == {"total": 0, "pagina": 1, "limite": 1, "compras": []}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limite=0", "limite"),
        ("limite=101", "limite"),
        ("limite=-1", "limite"),
        ("limite=abc", "limite"),
        ("limite=1.5", "limite"),
        ("limite=", "limite"),
        ("pagina=0", "pagina"),
        ("pagina=-3", "pagina"),
        ("pagina=x", "pagina"),
        ("pagina=99999999999999999999999", "pagina"),
    ],
)
async def test_compras_bad_paging_is_400(
    res: Resources, client: httpx.AsyncClient, query: str, field: str
) -> None:
    r = await client.get(f"/compras?{query}")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input"
    assert r.json()["field"] == field

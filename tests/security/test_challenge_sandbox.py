"""The challenge face is anonymous: it must see only its own clients and events.

Product accounts (signed up through /api) and product events (created by the organizer)
are unknown there: no anonymous caller reads an account's email or books a product event
without paying. The challenge's own rows (seeded, or created through /clientes and
/eventos) work exactly as API.md section 1 says.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from core.resources import Resources
from tests.security.conftest import LATER, admin_auth


async def _product_customer(client: httpx.AsyncClient, email: str = "rita@example.com") -> uuid.UUID:
    r = await client.post(
        "/api/customers", json={"name": "Rita Lee", "email": email, "password": "correct horse battery"}
    )
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["customer"]["id"])


async def _product_event(client: httpx.AsyncClient) -> uuid.UUID:
    r = await client.post(
        "/api/events",
        json={"name": "Product gala", "starts_at": LATER, "capacity": 10, "price_cents": 90000},
        headers=admin_auth(),
    )
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


async def _challenge_client(client: httpx.AsyncClient) -> uuid.UUID:
    r = await client.post("/clientes", json={"nome": "Zé", "email": "ze@example.com", "cpf": "52998224725"})
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


async def _challenge_event(client: httpx.AsyncClient) -> uuid.UUID:
    r = await client.post("/eventos", json={"nome": "Forró", "data": LATER, "capacidade": 10, "preco": 100})
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


async def test_compras_does_not_book_a_product_event(res: Resources, client: httpx.AsyncClient) -> None:
    product_event = await _product_event(client)
    cliente = await _challenge_client(client)

    r = await client.post("/compras", json={"cliente_id": str(cliente), "evento_id": str(product_event)})

    assert r.status_code == 404
    booked = await res.pool.fetchval("SELECT count(*) FROM purchases WHERE event_id = $1", product_event)
    assert booked == 0


async def test_compras_does_not_buy_for_a_product_customer(res: Resources, client: httpx.AsyncClient) -> None:
    account = await _product_customer(client)
    evento = await _challenge_event(client)

    r = await client.post("/compras", json={"cliente_id": str(account), "evento_id": str(evento)})

    assert r.status_code == 404
    assert await res.pool.fetchval("SELECT count(*) FROM purchases WHERE customer_id = $1", account) == 0


async def test_clientes_does_not_show_a_product_account(res: Resources, client: httpx.AsyncClient) -> None:
    account = await _product_customer(client, email="private@example.com")

    r = await client.get(f"/clientes/{account}")

    assert r.status_code == 404
    assert "private@example.com" not in r.text


async def test_eventos_does_not_show_a_product_event(res: Resources, client: httpx.AsyncClient) -> None:
    product_event = await _product_event(client)

    r = await client.get(f"/eventos/{product_event}")

    assert r.status_code == 404


async def test_compras_list_shows_only_challenge_purchases(res: Resources, client: httpx.AsyncClient) -> None:
    from tests.factories import book_ticket

    account = await _product_customer(client, email="buyer@example.com")
    product_event = await _product_event(client)
    async with res.pool.acquire() as conn:
        await book_ticket(conn, customer_id=account, event_id=product_event)
    cliente, evento = await _challenge_client(client), await _challenge_event(client)
    mine = await client.post("/compras", json={"cliente_id": str(cliente), "evento_id": str(evento)})
    assert mine.status_code == 201

    page = (await client.get("/compras")).json()

    assert page["total"] == 1
    assert [c["id"] for c in page["compras"]] == [mine.json()["id"]]
    assert "Rita" not in str(page)


async def test_challenge_rows_still_work_and_the_product_api_sees_them(
    seeded: Resources, client: httpx.AsyncClient
) -> None:
    rock = "550e8400-e29b-41d4-a716-446655440001"
    joao = "660e8400-e29b-41d4-a716-446655440001"
    assert (await client.get(f"/eventos/{rock}")).status_code == 200
    assert (await client.get(f"/clientes/{joao}")).status_code == 200
    bought = await client.post("/compras", json={"cliente_id": joao, "evento_id": rock})
    assert bought.status_code == 201
    product_view = (await client.get(f"/api/events/{rock}")).json()
    assert product_view["live"]["sold"] == 1  # a purchase here is a booked ticket there


async def test_eventos_capacity_is_capped_by_default(res: Resources, client: httpx.AsyncClient) -> None:
    r = await client.post("/eventos", json={"nome": "Mega", "data": LATER, "capacidade": 100_001, "preco": 1})

    assert (r.status_code, r.json().get("field")) == (400, "capacidade")
    assert await res.pool.fetchval("SELECT count(*) FROM tickets") == 0


async def test_eventos_capacity_cap_is_a_setting(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(CHALLENGE_MAX_CAPACITY=500)

    too_big = await client.post(
        "/eventos", json={"nome": "Mega", "data": LATER, "capacidade": 501, "preco": 1}
    )
    at_cap = await client.post("/eventos", json={"nome": "Ok", "data": LATER, "capacidade": 500, "preco": 1})

    assert (too_big.status_code, too_big.json().get("field")) == (400, "capacidade")
    assert at_cap.status_code == 201
    assert await res.pool.fetchval("SELECT count(*) FROM events") == 1

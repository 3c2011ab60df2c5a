"""Customers of the product API: sign-up, login, the account and who may read it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from core.config import Settings
from core.resources import Resources
from tests.factories import book_ticket, make_customer, make_event


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(client: httpx.AsyncClient, email: str = "rita@example.com", **extra: Any) -> httpx.Response:
    body = {"name": "Rita Lee", "email": email, "password": "correct horse battery"} | extra
    return await client.post("/api/customers", json=body)


async def test_sign_up_returns_the_customer_and_a_working_token(
    res: Resources, client: httpx.AsyncClient
) -> None:
    r = await sign_up(client)
    assert r.status_code == 201
    body = r.json()
    customer = body["customer"]
    assert customer["name"] == "Rita Lee"
    assert customer["email"] == "rita@example.com"
    cid = uuid.UUID(customer["id"])
    stored = await res.pool.fetchval("SELECT password_hash FROM customers WHERE id = $1", cid)
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored

    me = await client.get(f"/api/customers/{cid}", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json() == {"id": str(cid), "name": "Rita Lee", "email": "rita@example.com", "purchases": []}


async def test_email_is_taken_case_insensitively(res: Resources, client: httpx.AsyncClient) -> None:
    assert (await sign_up(client)).status_code == 201
    r = await sign_up(client, email="RITA@Example.com")
    assert r.status_code == 409
    assert r.json()["error"] == "email_taken"
    assert r.json()["field"] == "email"
    assert await res.pool.fetchval("SELECT count(*) FROM customers") == 1


async def test_a_challenge_client_with_the_same_email_does_not_block_sign_up(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        await make_customer(conn, email="rita@example.com")
    assert (await sign_up(client)).status_code == 201


async def test_login(res: Resources, client: httpx.AsyncClient) -> None:
    created = (await sign_up(client)).json()
    r = await client.post(
        "/api/sessions", json={"email": "Rita@example.com", "password": "correct horse battery"}
    )
    assert r.status_code == 200
    assert r.json()["customer"] == created["customer"]
    me = await client.get(f"/api/customers/{created['customer']['id']}", headers=bearer(r.json()["token"]))
    assert me.status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("rita@example.com", "wrong password"), ("nobody@example.com", "correct horse battery")],
)
async def test_login_refuses_wrong_password_and_unknown_email_alike(
    res: Resources, client: httpx.AsyncClient, email: str, password: str
) -> None:
    await sign_up(client)
    r = await client.post("/api/sessions", json={"email": email, "password": password})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_credentials"
    assert "token" not in r.json()


async def test_a_challenge_client_cannot_log_in(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        await make_customer(conn, email="cli@example.com")
    r = await client.post("/api/sessions", json={"email": "cli@example.com", "password": "anything at all"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": 12345678}, "password"),
        ({"email": "no-at-sign"}, "email"),
        ({"email": "two@@example.com"}, "email"),
        ({"email": "nodot@example"}, "email"),
        ({"name": "  "}, "name"),
        ({"name": "a" * 201}, "name"),
        ({"name": "bad\u0000name"}, "name"),
        ({"admin": True}, "admin"),
    ],
)
async def test_sign_up_refuses_bad_bodies(
    res: Resources, client: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    r = await sign_up(client, **patch)
    assert r.status_code == 400
    assert r.json()["field"] == field
    assert await res.pool.fetchval("SELECT count(*) FROM customers") == 0


async def test_account_access_rules(res: Resources, client: httpx.AsyncClient, settings: Settings) -> None:
    alice = (await sign_up(client, email="alice@example.com")).json()
    bob = (await sign_up(client, email="bob@example.com")).json()
    alice_url = f"/api/customers/{alice['customer']['id']}"

    assert (await client.get(alice_url)).status_code == 401
    assert (await client.get(alice_url, headers=bearer("not-a-jwt"))).status_code == 401
    forbidden = await client.get(alice_url, headers=bearer(bob["token"]))
    assert (forbidden.status_code, forbidden.json()["error"]) == (403, "forbidden")
    organizer = await client.get(alice_url, headers=bearer(settings.admin_token))
    assert organizer.status_code == 200
    assert organizer.json()["email"] == "alice@example.com"

    unknown = await client.get(f"/api/customers/{uuid.uuid4()}", headers=bearer(settings.admin_token))
    assert (unknown.status_code, unknown.json()["error"]) == (404, "customer_not_found")
    bad = await client.get("/api/customers/123", headers=bearer(settings.admin_token))
    assert (bad.status_code, bad.json()["field"]) == (400, "customer_id")


async def test_account_lists_purchases_with_seats(res: Resources, client: httpx.AsyncClient) -> None:
    session = (await sign_up(client)).json()
    cid = uuid.UUID(session["customer"]["id"])
    async with res.pool.acquire() as conn:
        seated = await make_event(
            conn,
            name="Ópera",
            sections=[{"name": "Balcão", "price_cents": 8000, "rows": 1, "seats_per_row": 1}],
        )
        general = await make_event(conn, name="Pista", capacity=5, price_cents=3000)
        for eid in (seated, general):
            await book_ticket(conn, customer_id=cid, event_id=eid)

    account = (await client.get(f"/api/customers/{cid}", headers=bearer(session["token"]))).json()
    purchases = account["purchases"]
    assert [p["event_name"] for p in purchases] == ["Pista", "Ópera"]  # newest first
    pista, opera = purchases
    assert opera | {"id": "x", "created_at": "x"} == {
        "id": "x",
        "event_id": str(seated),
        "event_name": "Ópera",
        "price_cents": 8000,
        "half_price": False,
        "section": "Balcão",
        "row": "A",
        "seat": 1,
        "created_at": "x",
        "status": "confirmed",
    }
    assert (pista["section"], pista["row"], pista["seat"], pista["price_cents"]) == (None, None, None, 3000)

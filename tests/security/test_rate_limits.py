"""Rate limits, counted in Redis so every API instance shares them: logins per address and
per account with a growing backoff, sign-ups per address, orders per customer and per
address, event creation per address (both faces), waitlist joins per address. Each
answers 429 `rate_limited` with Retry-After, and a refused request has no effect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx

from core.resources import Resources
from tests.factories import make_customers, make_event
from tests.security.conftest import LATER, admin_auth, customer_auth

PASSWORD = "correct horse battery"


async def _sign_up(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(
        "/api/customers", json={"name": "Rita Lee", "email": email, "password": PASSWORD}
    )


async def _log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/sessions", json={"email": email, "password": password})


def _assert_limited(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "rate_limited"
    retry_after = int(r.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


async def test_wrong_passwords_earn_a_growing_block_and_a_success_resets_it(
    res: Resources, client: httpx.AsyncClient
) -> None:
    # The defaults: 5 failures in a row block the account 1 s, then 2 s, 4 s ... 15 min.
    assert (await _sign_up(client, "rita@example.com")).status_code == 201

    first = [(await _log_in(client, "rita@example.com", "guess-1")).status_code for _ in range(5)]
    blocked = await _log_in(client, "rita@example.com", PASSWORD)  # even the right one waits
    assert first == [401] * 5
    assert _assert_limited(blocked) == 1

    await asyncio.sleep(1.1)
    assert (await _log_in(client, "rita@example.com", "guess-4")).status_code == 401
    assert _assert_limited(await _log_in(client, "rita@example.com", "guess-5")) == 2  # doubled

    await asyncio.sleep(2.1)
    assert (await _log_in(client, "rita@example.com", PASSWORD)).status_code == 200
    # The success reset the count: the next failures start over.
    assert (await _log_in(client, "rita@example.com", "guess-6")).status_code == 401
    assert (await _log_in(client, "rita@example.com", "guess-7")).status_code == 401


async def test_logins_per_address_are_limited(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(LOGIN_LIMIT_PER_ADDRESS=3)
    # One address trying many accounts (password spraying): the account backoff never starts.
    codes = [(await _log_in(client, f"user{i}@example.com", "Summer2025!")).status_code for i in range(3)]
    refused = await _log_in(client, "user9@example.com", "Summer2025!")

    assert codes == [401, 401, 401]
    _assert_limited(refused)


async def test_logins_per_account_are_limited(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(LOGIN_LIMIT_PER_ACCOUNT=2, LOGIN_BACKOFF_AFTER=100)
    assert (await _sign_up(client, "rita@example.com")).status_code == 201
    codes = [(await _log_in(client, "rita@example.com", PASSWORD)).status_code for _ in range(2)]
    refused = await _log_in(client, "RITA@example.com", PASSWORD)  # the same account

    assert codes == [200, 200]
    _assert_limited(refused)


async def test_sign_ups_per_address_are_limited(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(SIGNUP_LIMIT_PER_ADDRESS=2)
    codes = [(await _sign_up(client, f"bot{i}@example.com")).status_code for i in range(2)]
    refused = await _sign_up(client, "bot9@example.com")

    assert codes == [201, 201]
    _assert_limited(refused)
    assert await res.pool.fetchval("SELECT count(*) FROM customers") == 2


async def _order(client: httpx.AsyncClient, customer: uuid.UUID, event_id: uuid.UUID) -> httpx.Response:
    headers = customer_auth(customer) | {"Idempotency-Key": uuid.uuid4().hex}
    body = {"event_id": str(event_id), "payment_method": "pm_card_visa"}
    return await client.post("/api/orders", json=body, headers=headers)


async def test_orders_per_customer_are_limited(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(ORDER_LIMIT_PER_CUSTOMER=3)
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=100, max_per_customer=10)
        customer, other = await make_customers(conn, 2)
    codes = [(await _order(client, customer, event_id)).status_code for _ in range(3)]
    refused = await _order(client, customer, event_id)
    someone_else = await _order(client, other, event_id)

    assert codes == [202, 202, 202]
    _assert_limited(refused)
    assert someone_else.status_code == 202


async def test_orders_per_address_are_limited(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(ORDER_LIMIT_PER_ADDRESS=3)
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=100)
        customers = await make_customers(conn, 4)
    codes = [(await _order(client, c, event_id)).status_code for c in customers[:3]]
    refused = await _order(client, customers[3], event_id)

    assert codes == [202, 202, 202]
    _assert_limited(refused)


async def test_event_creation_per_address_is_limited_on_both_faces(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(EVENT_LIMIT_PER_ADDRESS=2)
    body = {"nome": "Spam", "data": LATER, "capacidade": 1, "preco": 1}
    codes = [(await client.post("/eventos", json=body)).status_code for _ in range(2)]
    refused = await client.post("/eventos", json=body)
    organizer = await client.post(
        "/api/events",
        json={"name": "Spam", "starts_at": LATER, "capacity": 1, "price_cents": 1},
        headers=admin_auth(),
    )

    assert codes == [201, 201]
    _assert_limited(refused)
    _assert_limited(organizer)
    assert await res.pool.fetchval("SELECT count(*) FROM events") == 2


async def test_waitlist_joins_per_address_are_limited(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(WAITLIST_LIMIT_PER_ADDRESS=2)
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=1)
        (owner,) = await make_customers(conn, 1)
    await res.pool.execute(
        "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE event_id = $1", event_id, owner
    )
    codes = [
        (
            await client.post(f"/api/events/{event_id}/waitlist", json={"email": f"bot{i}@example.com"})
        ).status_code
        for i in range(2)
    ]
    refused = await client.post(f"/api/events/{event_id}/waitlist", json={"email": "bot9@example.com"})

    assert codes == [201, 201]
    _assert_limited(refused)
    assert await res.pool.fetchval("SELECT count(*) FROM waitlist_entries") == 2

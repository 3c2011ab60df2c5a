"""Abuse of presale and discount codes (docs/codes.md): guessing is rate-limited per address
(the check route) and per customer (holds naming a code), the check route does not tell a
switched-off code from one that never existed nor say how many uses are left, hostile code
strings get a 4xx and write nothing, and only the organizer manages codes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import quote

import httpx

from core.resources import Resources
from tests.factories import make_customer, make_event
from tests.security.conftest import admin_auth, assert_invalid, customer_auth, row_counts

HOSTILE = [
    "'; DROP TABLE codes; --",
    "CODE' OR '1'='1",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "\uff21\uff22\uff23\uff11\uff12\uff13",  # full-width letters and digits
    "\u00df" * 3,  # upper() would make it "SSSSSS": refused as typed
    "\u202eEDOC",
    "A\x00B",
    "ok",  # too short
    "A" * 33,
    " ",
]


async def setup(res: Resources) -> tuple[uuid.UUID, uuid.UUID]:
    async with res.pool.acquire() as conn:
        return await make_event(conn), await make_customer(conn)


async def new_code(client: httpx.AsyncClient, event_id: uuid.UUID, code: str, **body: object) -> None:
    r = await client.post(
        f"/api/events/{event_id}/codes",
        json={"code": code, "kind": "discount", "percent_off": 10, **body},
        headers=admin_auth(),
    )
    assert r.status_code == 201, r.text


async def test_checking_codes_is_rate_limited_per_address(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(CODE_CHECK_LIMIT_PER_ADDRESS=5, CODE_CHECK_WINDOW_S=60)
    event_id, _ = await setup(res)
    await new_code(client, event_id, "REALCODE")
    guesses = [await client.get(f"/api/events/{event_id}/codes/GUESS{i:03d}/check") for i in range(5)]
    assert [r.status_code for r in guesses] == [422] * 5
    # Over the limit even the right code is refused, before anything is looked up.
    r = await client.get(f"/api/events/{event_id}/codes/REALCODE/check")
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1


async def test_holds_naming_codes_are_rate_limited_per_customer(
    res: Resources, client: httpx.AsyncClient, setting: Callable[..., None]
) -> None:
    setting(CODE_LIMIT_PER_CUSTOMER=3)
    event_id, customer = await setup(res)
    await new_code(client, event_id, "REALCODE")
    url = f"/api/events/{event_id}/holds"
    tries = [
        await client.post(url, json={"quantity": 1, "code": f"GUESS{i}"}, headers=customer_auth(customer))
        for i in range(3)
    ]
    assert [r.json()["error"] for r in tries] == ["code_unknown"] * 3
    r = await client.post(url, json={"quantity": 1, "code": "REALCODE"}, headers=customer_auth(customer))
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert await res.pool.fetchval("SELECT count(*) FROM holds") == 0
    # Holds without a code are not counted.
    r = await client.post(url, json={"quantity": 1}, headers=customer_auth(customer))
    assert r.status_code == 201, r.text


async def test_the_check_route_does_not_tell_what_exists_or_how_many_uses_are_left(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, _ = await setup(res)
    await new_code(client, event_id, "SWITCHEDOFF", max_uses=1000)
    await new_code(client, event_id, "LIVE", max_uses=1000)
    r = await client.patch(
        f"/api/events/{event_id}/codes/SWITCHEDOFF", json={"active": False}, headers=admin_auth()
    )
    assert r.status_code == 200
    off = await client.get(f"/api/events/{event_id}/codes/SWITCHEDOFF/check")
    never = await client.get(f"/api/events/{event_id}/codes/NEVEREXISTED/check")
    assert (off.status_code, off.json()) == (never.status_code, never.json())
    assert off.json()["error"] == "code_unknown"
    # Another event's code is unknown here.
    other, _ = await setup(res)
    assert (await client.get(f"/api/events/{other}/codes/LIVE/check")).json() == never.json()
    live = (await client.get(f"/api/events/{event_id}/codes/live/check")).json()
    assert not {"max_uses", "uses", "id", "revenue_cents", "valid_until"} & set(live)


async def test_hostile_code_strings_get_a_4xx_and_write_nothing(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, customer = await setup(res)
    await new_code(client, event_id, "REALCODE")
    before = await row_counts(res)
    codes_before = await res.pool.fetchval("SELECT count(*) FROM codes")
    for text in HOSTILE:
        r = await client.post(
            f"/api/events/{event_id}/holds",
            json={"quantity": 1, "code": text},
            headers=customer_auth(customer),
        )
        assert_invalid(r, "code")
        r = await client.get(f"/api/events/{event_id}/codes/{quote(text, safe='')}/check")
        assert 400 <= r.status_code < 500 and r.status_code != 422, (text, r.status_code, r.text)
        r = await client.post(
            f"/api/events/{event_id}/codes", json={"code": text, "kind": "access"}, headers=admin_auth()
        )
        assert_invalid(r, "code")
    r = await client.post(
        f"/api/events/{event_id}/holds",
        json={"quantity": 1, "code": "X" * 10_000},
        headers=customer_auth(customer),
    )
    assert_invalid(r, "code")
    r = await client.post(
        f"/api/events/{event_id}/holds", json={"quantity": 1, "code": 12345}, headers=customer_auth(customer)
    )
    assert_invalid(r, "code")
    r = await client.get(f"/api/events/{event_id}/codes/{'A' * 5000}/check")
    assert r.status_code == 400
    assert await row_counts(res) == before
    assert await res.pool.fetchval("SELECT count(*) FROM codes") == codes_before
    assert await res.pool.fetchval("SELECT count(*) FROM code_uses") == 0


async def test_only_the_organizer_manages_codes(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, customer = await setup(res)
    await new_code(client, event_id, "REALCODE")
    base = f"/api/events/{event_id}/codes"
    for headers, status in (
        ({}, 401),
        (customer_auth(customer), 403),
        ({"Authorization": "Bearer nope"}, 401),
    ):
        assert (await client.get(base, headers=headers)).status_code == status
        assert (
            await client.post(base, json={"code": "MINE", "kind": "access"}, headers=headers)
        ).status_code == status
        r = await client.patch(f"{base}/REALCODE", json={"active": False}, headers=headers)
        assert r.status_code == status
    assert await res.pool.fetchval("SELECT count(*) FROM codes") == 1
    assert await res.pool.fetchval("SELECT active FROM codes") is True

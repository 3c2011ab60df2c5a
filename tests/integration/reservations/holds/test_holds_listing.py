"""Hold creation with an Idempotency-Key, and GET /api/holds (the customer's holds)."""

from __future__ import annotations

import uuid

import httpx

from core.auth import issue_customer_token
from core.resources import Resources
from tests.factories import make_customer, make_event


def auth(customer_id: uuid.UUID, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}
    return {**headers, "Idempotency-Key": key} if key else headers


async def test_same_key_same_body_is_the_same_hold(client: httpx.AsyncClient, res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=10, max_per_customer=3)
        me = await make_customer(conn)
    url = f"/api/events/{event_id}/holds"
    first = await client.post(url, json={"quantity": 2}, headers=auth(me, "k-1"))
    again = await client.post(url, json={"quantity": 2}, headers=auth(me, "k-1"))
    assert first.status_code == again.status_code == 201
    assert again.content == first.content  # byte for byte
    assert await res.pool.fetchval("SELECT count(*) FROM holds") == 1
    assert await res.pool.fetchval("SELECT taken FROM allowances WHERE customer_id = $1", me) == 2

    other = await client.post(url, json={"quantity": 1}, headers=auth(me, "k-1"))
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    fresh = await client.post(url, json={"quantity": 1}, headers=auth(me, "k-2"))
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    # A refusal is kept too: the same key and body are refused the same way.
    over = await client.post(url, json={"quantity": 1}, headers=auth(me, "k-3"))
    assert over.status_code == 409 and over.json()["error"] == "limit_reached"
    assert (await client.post(url, json={"quantity": 1}, headers=auth(me, "k-3"))).content == over.content
    # Keys are per customer: another customer's k-1 is another request.
    async with res.pool.acquire() as conn:
        you = await make_customer(conn)
    theirs = await client.post(url, json={"quantity": 2}, headers=auth(you, "k-1"))
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    # Without a key, every request is its own.
    assert (await client.post(url, json={"quantity": 1}, headers=auth(you))).status_code == 201
    bad = await client.post(url, json={"quantity": 1}, headers=auth(you, "x" * 256))
    assert bad.status_code == 400 and bad.json()["field"] == "Idempotency-Key"


async def test_list_holds_newest_first_in_pages(client: httpx.AsyncClient, res: Resources) -> None:
    async with res.pool.acquire() as conn:
        events = [await make_event(conn, capacity=5) for _ in range(5)]
        me = await make_customer(conn)
        other = await make_customer(conn)
    made = []
    for event_id in events:
        r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(me))
        assert r.status_code == 201
        made.append(r.json())
    await client.post(f"/api/events/{events[0]}/holds", json={"quantity": 1}, headers=auth(other))
    assert (await client.delete(f"/api/holds/{made[1]['id']}", headers=auth(me))).status_code == 204

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/api/holds", params=params, headers=auth(me))
        assert r.status_code == 200
        seen += r.json()
        cursor = r.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert [h["id"] for h in seen] == [h["id"] for h in reversed(made)]
    by_id = {h["id"]: h for h in seen}
    assert by_id[made[1]["id"]]["status"] == "cancelled" and by_id[made[1]["id"]]["tickets"] == []
    assert by_id[made[0]["id"]]["status"] == "active" and len(by_id[made[0]["id"]]["tickets"]) == 1

    assert (await client.get("/api/holds")).status_code == 401
    bad = await client.get("/api/holds", params={"cursor": "nope"}, headers=auth(me))
    assert bad.status_code == 400 and bad.json()["field"] == "cursor"
    assert (await client.get("/api/holds", params={"limit": 0}, headers=auth(me))).status_code == 400


async def test_the_listing_and_the_hold_key_are_in_the_openapi(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    listing = paths["/api/holds"]["get"]
    assert listing["operationId"] == "listHolds"
    assert "X-Next-Cursor" in listing["responses"]["200"]["headers"]
    assert {"limit", "cursor"} <= {p["name"] for p in listing["parameters"]}
    create = paths["/api/events/{event_id}/holds"]["post"]
    headers = {p["name"] for p in create["parameters"]}
    assert {"Idempotency-Key", "Admission-Token", "Visitor-Token"} <= headers
    assert "422" in create["responses"]  # the same key with another body

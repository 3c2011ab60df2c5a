"""Check-in: each answer of a scan, and who may scan."""

from __future__ import annotations

import httpx

from core.resources import Resources
from tests.integration.reservations.sale_helpers import admin, auth, buy, new_customer, new_event


async def door_token(client: httpx.AsyncClient, res: Resources, event_id: object, door: str = "North") -> str:
    r = await client.post(f"/api/events/{event_id}/door-tokens", json={"door": door}, headers=admin(res))
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


async def test_scan_answers(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, other_event = await new_event(res), await new_event(res)
    buyer = await new_customer(res, name="Ana Souza")
    [purchase] = await buy(client, event_id, buyer)
    [elsewhere] = await buy(client, other_event, buyer)
    code = (await client.get(f"/api/tickets/{purchase['id']}", headers=auth(buyer))).json()["code"]
    other_code = (await client.get(f"/api/tickets/{elsewhere['id']}", headers=auth(buyer))).json()["code"]
    north = {"Authorization": f"Bearer {await door_token(client, res, event_id)}"}
    south = {"Authorization": f"Bearer {await door_token(client, res, event_id, 'South')}"}
    url = f"/api/events/{event_id}/checkins"

    first = await client.post(url, json={"code": code}, headers=north)
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "admitted" and first.json()["door"] == "North"
    assert first.json()["holder"] == "Ana Souza"
    again = (await client.post(url, json={"code": code}, headers=south)).json()
    assert again["result"] == "already_checked_in" and again["door"] == "North"
    assert again["checked_in_at"] == first.json()["checked_in_at"]

    assert (await client.post(url, json={"code": other_code}, headers=north)).json()[
        "result"
    ] == "wrong_event"
    forged = code[:-3] + "AAA"
    assert (await client.post(url, json={"code": forged}, headers=north)).json()["result"] == "forged"
    assert (await client.post(url, json={"code": "garbage"}, headers=north)).json()["result"] == "forged"

    # The organizer may scan too, naming the door.
    r = await client.post(url, json={"code": code, "door": "VIP"}, headers=admin(res))
    assert r.json()["result"] == "already_checked_in"
    assert (await client.post(url, json={"code": code}, headers=admin(res))).status_code == 400


async def test_door_tokens_are_scoped_to_one_event(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, other_event = await new_event(res), await new_event(res)
    buyer = await new_customer(res)
    token = await door_token(client, res, other_event)
    headers = {"Authorization": f"Bearer {token}"}
    r = await client.post(f"/api/events/{event_id}/checkins", json={"code": "x"}, headers=headers)
    assert r.status_code == 401
    assert (await client.post(f"/api/events/{event_id}/checkins", json={"code": "x"})).status_code == 401
    # A customer token is not a door token, and a door token is not a customer token.
    r = await client.post(f"/api/events/{event_id}/checkins", json={"code": "x"}, headers=auth(buyer))
    assert r.status_code == 401
    assert (await client.get("/api/tickets", headers=headers)).status_code == 401
    r = await client.post(f"/api/events/{event_id}/door-tokens", json={"door": "N"}, headers=headers)
    assert r.status_code in (401, 403)


async def test_the_door_kit_lists_revoked_tickets(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    [purchase] = await buy(client, event_id, buyer)
    headers = {"Authorization": f"Bearer {await door_token(client, res, event_id)}"}
    kit = (await client.get(f"/api/events/{event_id}/door-kit", headers=headers)).json()
    assert kit["revoked"] == [] and kit["algorithm"] == "HMAC-SHA256-128" and kit["key"]
    async with res.pool.acquire() as conn:
        await conn.execute(
            "UPDATE purchases SET refunded_at = now(), refund_reason = 'organizer', refund_cents = 0"
            " WHERE id = $1",
            purchase["id"],
        )
    later = await client.get(
        f"/api/events/{event_id}/door-kit", params={"since": kit["as_of"]}, headers=headers
    )
    assert [r["id"] for r in later.json()["revoked"]] == [purchase["id"]]
    code = (await client.get(f"/api/tickets/{purchase['id']}", headers=auth(buyer))).json()["code"]
    r = await client.post(f"/api/events/{event_id}/checkins", json={"code": code}, headers=headers)
    assert r.json()["result"] == "refunded"

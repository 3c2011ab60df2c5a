"""Check-in: each answer of a scan, and who may scan."""

from __future__ import annotations

import base64
import datetime as dt

import httpx

from core.resources import Resources
from reservations.etickets.codes import event_public_key
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
    assert kit["revoked"] == [] and kit["algorithm"] == "Ed25519"
    assert base64.urlsafe_b64decode(kit["key"] + "=") == event_public_key(event_id)
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


async def test_offline_scans_uploaded_later_the_earliest_wins(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, other_event = await new_event(res, max_per_customer=3), await new_event(res)
    buyer = await new_customer(res, name="Ana Souza")
    first, second, refunded = await buy(client, event_id, buyer, quantity=3)
    [elsewhere] = await buy(client, other_event, buyer)

    async def code_of(purchase: dict[str, str]) -> str:
        r = await client.get(f"/api/tickets/{purchase['id']}", headers=auth(buyer))
        code: str = r.json()["code"]
        return code

    async with res.pool.acquire() as conn:
        await conn.execute(
            "UPDATE purchases SET refunded_at = now(), refund_reason = 'organizer', refund_cents = 0"
            " WHERE id = $1",
            refunded["id"],
        )
    north = {"Authorization": f"Bearer {await door_token(client, res, event_id)}"}
    south = {"Authorization": f"Bearer {await door_token(client, res, event_id, 'South')}"}
    url = f"/api/events/{event_id}/checkins"
    # Online, South admits the first ticket now ...
    online = (await client.post(url, json={"code": await code_of(first)}, headers=south)).json()
    assert online["result"] == "admitted"
    # ... but North, offline, had scanned it ten minutes ago: that scan is the check-in.
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    at = lambda minutes: (earlier + dt.timedelta(minutes=minutes)).isoformat()  # noqa: E731
    scans = [
        {"code": await code_of(second), "scanned_at": at(2)},
        {"code": await code_of(first), "scanned_at": at(0)},
        {"code": await code_of(second), "scanned_at": at(1)},  # twice offline: the earlier wins
        {"code": await code_of(refunded), "scanned_at": at(3)},
        {"code": await code_of(elsewhere), "scanned_at": at(3)},
        {"code": (await code_of(first))[:-4] + "AAAA", "scanned_at": at(3)},
    ]
    r = await client.post(f"{url}/offline", json={"scans": scans}, headers=north)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["result"] for x in results] == [
        "already_checked_in",
        "admitted",
        "admitted",
        "refunded",
        "wrong_event",
        "forged",
    ]
    assert results[0]["door"] == "North" and results[0]["checked_in_at"] == results[2]["checked_in_at"]
    assert dt.datetime.fromisoformat(results[1]["checked_in_at"]) == earlier
    row = await res.pool.fetchrow(
        "SELECT checked_in_at, checked_in_door FROM purchases WHERE id = $1", first["id"]
    )
    assert row["checked_in_at"] == earlier and row["checked_in_door"] == "North"
    # The same upload again (its answer was lost): the same answers, nothing changes.
    again = (await client.post(f"{url}/offline", json={"scans": scans}, headers=north)).json()["results"]
    assert [x["result"] for x in again] == [x["result"] for x in results]
    # A later online scan hears about the offline one.
    late = (await client.post(url, json={"code": await code_of(first)}, headers=south)).json()
    assert late["result"] == "already_checked_in" and late["door"] == "North"


async def test_offline_upload_bad_input_names_the_field(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res)
    north = {"Authorization": f"Bearer {await door_token(client, res, event_id)}"}
    url = f"/api/events/{event_id}/checkins/offline"
    cases = [
        ({"scans": []}, "scans"),
        ({"scans": [{"code": "x", "scanned_at": "2026-01-01T10:00:00"}]}, "scanned_at"),  # no time zone
        ({"scans": [{"code": "x"}]}, "scanned_at"),
        ({"scans": [{"code": "x", "scanned_at": "2026-01-01T10:00:00Z", "extra": 1}]}, "extra"),
    ]
    for body, field in cases:
        r = await client.post(url, json=body, headers=north)
        assert r.status_code == 400, (body, r.text)
        assert field in (r.json().get("field") or "") + r.json()["detail"], r.text
    ok = {"scans": [{"code": "x", "scanned_at": "2026-01-01T10:00:00Z"}]}
    assert (await client.post(url, json=ok, headers=admin(res))).json().get("field") == "door"
    assert (await client.post(url, json=ok)).status_code == 401

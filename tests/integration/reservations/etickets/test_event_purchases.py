"""The organizer's purchase list of an event: newest first, paginated, searchable by buyer
email or name, e-ticket id or ticket code; each row is what a Refund button acts on."""

from __future__ import annotations

import uuid

import httpx

from core.resources import Resources
from tests.factories import make_customer
from tests.integration.reservations.sale_helpers import admin, auth, buy, new_customer, new_event


async def test_list_search_and_pages(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, other_event = await new_event(res), await new_event(res)
    async with res.pool.acquire() as conn:
        ana = await make_customer(conn, name="Ana Souza", email="ana.souza@example.com")
        bruno = await make_customer(conn, name="Bruno Lima", email="bruno_100%@example.com")
    carla = await new_customer(res, name="Carla Dias")
    bought = {}
    for name, who in (("ana", ana), ("bruno", bruno), ("carla", carla)):
        [bought[name]] = await buy(client, event_id, who)
    await buy(client, other_event, ana)  # another event's purchase is never listed
    url = f"/api/events/{event_id}/purchases"

    r = await client.get(url, headers=admin(res))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 3 and page["page"] == 1 and page["limit"] == 20
    assert [p["id"] for p in page["items"]] == [bought[n]["id"] for n in ("carla", "bruno", "ana")]
    first = page["items"][2]
    assert first["buyer_name"] == "Ana Souza" and first["buyer_email"] == "ana.souza@example.com"
    assert first["state"] == "valid" and first["price_cents"] == 5000 and first["seat"] == "General admission"

    # Pages of two, newest first.
    one = (await client.get(url, params={"limit": 2}, headers=admin(res))).json()
    two = (await client.get(url, params={"limit": 2, "page": 2}, headers=admin(res))).json()
    assert [p["id"] for p in one["items"] + two["items"]] == [p["id"] for p in page["items"]]
    assert one["total"] == two["total"] == 3
    assert (await client.get(url, params={"page": 9}, headers=admin(res))).json()["items"] == []

    async def search(q: str) -> list[str]:
        r = await client.get(url, params={"q": q}, headers=admin(res))
        assert r.status_code == 200, r.text
        return [p["buyer_name"] for p in r.json()["items"]]

    assert await search("SOUZA@") == ["Ana Souza"]  # email, any case
    assert await search("carla") == ["Carla Dias"]  # name
    assert await search("_100%") == ["Bruno Lima"]  # LIKE wildcards are literal
    assert await search("e%m") == []  # would match every "example.com" as a wildcard
    assert await search(bought["bruno"]["id"]) == ["Bruno Lima"]  # e-ticket id
    code = (await client.get(f"/api/tickets/{bought['carla']['id']}", headers=auth(carla))).json()["code"]
    assert await search(code) == ["Carla Dias"]  # ticket code (scanned or pasted)
    assert await search(str(uuid.uuid4())) == []

    # The list shows a refund once it is made.
    r = await client.post(f"/api/tickets/{bought['ana']['id']}/refund", headers=admin(res))
    assert r.status_code == 200, r.text
    [refunded] = (await client.get(url, params={"q": "ana.souza"}, headers=admin(res))).json()["items"]
    assert refunded["state"] == "refunded" and refunded["refund_cents"] == 5000
    assert refunded["refund_reason"] == "organizer" and refunded["refunded_at"]


async def test_only_the_organizer_and_bad_input_is_named(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    await buy(client, event_id, buyer)
    url = f"/api/events/{event_id}/purchases"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=auth(buyer))).status_code == 403
    assert (await client.get(f"/api/events/{uuid.uuid4()}/purchases", headers=admin(res))).status_code == 404
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"q": "CP2.forged.code"}, "q"),
        ({"q": "a\x00b"}, "q"),
    ):
        r = await client.get(url, params=params, headers=admin(res))
        assert r.status_code == 400, (params, r.text)
        body = r.json()
        assert field in f"{body.get('field')} {body['detail']}", (params, body)

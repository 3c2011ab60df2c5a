"""The organizer edits an event (within what may still change), closes sales, reads the report."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx

from core.resources import Resources
from reservations import keys
from tests.integration.reservations.sale_helpers import (
    admin,
    auth,
    buy,
    new_customer,
    new_event,
    ticket_counts,
)


async def test_edit_before_and_after_the_first_sale(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res, capacity=10, price_cents=5000)
    url = f"/api/events/{event_id}"
    starts = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).replace(microsecond=0)
    r = await client.patch(
        url,
        json={"name": "New name", "venue": "Arena", "starts_at": starts.isoformat(), "capacity": 12,
              "price_cents": 6000, "max_per_customer": 2, "hold_ttl_s": 120},
        headers=admin(res),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    event = r.json()
    assert (event["name"], event["venue"], event["capacity"], event["price_cents"]) == (
        "New name",
        "Arena",
        12,
        6000,
    )
    assert event["max_per_customer"] == 2 and event["hold_ttl_s"] == 120 and event["live"]["available"] == 12
    assert await ticket_counts(res, event_id) == {"AVAILABLE": 12}
    assert (
        await res.pool.fetchval(
            "SELECT count(*) FROM tickets WHERE event_id=$1 AND price_cents=6000", event_id
        )
        == 12
    )
    r = await client.patch(url, json={"capacity": 8}, headers=admin(res))
    assert r.json()["live"]["available"] == 8

    await buy(client, event_id, await new_customer(res))
    r = await client.patch(url, json={"capacity": 20}, headers=admin(res))
    assert r.status_code == 409 and r.json()["error"] == "change_not_allowed"
    assert (await client.patch(url, json={"price_cents": 1}, headers=admin(res))).status_code == 409
    assert (await client.patch(url, json={"name": "Still editable"}, headers=admin(res))).status_code == 200

    bad = await client.patch(
        url, json={"sales_open_at": (starts + dt.timedelta(days=1)).isoformat()}, headers=admin(res)
    )
    assert bad.status_code == 400 and bad.json()["field"] == "sales_open_at"
    assert (await client.patch(url, json={"nope": 1}, headers=admin(res))).status_code == 400
    assert (await client.patch(url, json={"name": "x"})).status_code == 401
    assert (
        await client.patch(url, json={"name": "x"}, headers=auth(await new_customer(res)))
    ).status_code == 403


async def test_closing_sales_reaches_the_order_gate(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    r = await client.patch(f"/api/events/{event_id}", json={"closed": True}, headers=admin(res))
    assert r.status_code == 200 and r.json()["live"]["status"] == "closed"
    assert await res.redis.hget(keys.event_meta(event_id), "closed") == b"1"
    r = await client.post(
        "/api/orders",
        json={"event_id": str(event_id), "payment_method": "pm_card_visa"},
        headers={**auth(buyer), "Idempotency-Key": "k-closed"},
    )
    assert r.status_code >= 400, r.text
    r = await client.patch(f"/api/events/{event_id}", json={"closed": False}, headers=admin(res))
    assert r.json()["live"]["status"] == "on_sale"
    assert await res.redis.hget(keys.event_meta(event_id), "closed") == b"0"


async def test_the_sales_report(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(
        res, sections=[{"name": "A", "price_cents": 9000, "rows": 1, "seats_per_row": 4},
                       {"name": "B", "price_cents": 4000, "rows": 2, "seats_per_row": 3}],
    )  # fmt: skip
    buyers = [await new_customer(res) for _ in range(3)]
    bought = [(await buy(client, event_id, b))[0] for b in buyers]
    await client.post(f"/api/tickets/{bought[0]['id']}/refund", headers=admin(res))
    report = (await client.get(f"/api/events/{event_id}/report", headers=admin(res))).json()
    assert report["capacity"] == 10 and report["sold"] == 2 and report["refunds"] == 1
    assert report["revenue_cents"] + report["refunded_cents"] == sum(p["price_cents"] for p in bought)
    assert [s["section"] for s in report["by_section"]] == ["A", "B"]
    assert sum(b["sold"] for b in report["over_time"]) == 3
    assert sum(b["revenue_cents"] for b in report["over_time"]) == report["revenue_cents"]

    r = await client.get(f"/api/events/{event_id}/report.csv", params={"interval": "day"}, headers=admin(res))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "section" and rows[3][0] == "TOTAL" and rows[3][2] == "2"
    assert (await client.get(f"/api/events/{event_id}/report", headers=auth(buyers[0]))).status_code == 403

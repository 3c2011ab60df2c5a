"""Refunds: the organizer refunds any purchase, a buyer cancels within the policy, an
event is cancelled; the ticket goes back on sale."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from core.resources import Resources
from tests.integration.reservations.sale_helpers import (
    admin,
    auth,
    buy,
    charge_of,
    new_customer,
    new_event,
    ticket_counts,
)


async def set_policy(res: Resources, event_id: Any, *, until: dt.datetime | None, fee: int = 0) -> None:
    await res.pool.execute(
        "UPDATE events SET buyer_cancel_until = $2, cancel_fee_cents = $3 WHERE id = $1", event_id, until, fee
    )


async def test_the_organizer_refunds_and_the_ticket_is_sold_again(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id = await new_event(res, capacity=1, price_cents=5000)
    first, second = await new_customer(res), await new_customer(res)
    [purchase] = await buy(client, event_id, first)
    r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(second))
    assert r.json()["error"] == "sold_out"

    r = await client.post(f"/api/tickets/{purchase['id']}/refund", headers=admin(res))
    assert r.status_code == 200, r.text
    refund = r.json()
    assert refund["reason"] == "organizer" and refund["refund_cents"] == 5000 and refund["fee_cents"] == 0
    charge = await charge_of(res, purchase["id"])
    assert charge["refunds"] == 1 and charge["refunded_cents"] == 5000 and charge["status"] == "refunded"
    assert await ticket_counts(res, event_id) == {"AVAILABLE": 1}
    again = await client.post(f"/api/tickets/{purchase['id']}/refund", headers=admin(res))
    assert again.status_code == 200 and again.json() == refund
    assert (await charge_of(res, purchase["id"]))["refunds"] == 1
    ticket = (await client.get(f"/api/tickets/{purchase['id']}", headers=auth(first))).json()
    assert ticket["state"] == "refunded"
    stock = (await client.get(f"/api/events/{event_id}")).json()
    assert stock["live"]["available"] == 1 and stock["live"]["status"] == "on_sale"

    [resold] = await buy(client, event_id, second)
    assert resold["ticket_id"] == purchase["ticket_id"]
    # The first buyer's allowance came back too: they may buy again (once more on sale).
    await client.post(f"/api/tickets/{resold['id']}/refund", headers=admin(res))
    await buy(client, event_id, first)


async def test_a_buyer_cancels_within_the_policy(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res, price_cents=5000)
    buyer, other = await new_customer(res), await new_customer(res)
    [purchase] = await buy(client, event_id, buyer)
    url = f"/api/tickets/{purchase['id']}/refund"

    r = await client.post(url, headers=auth(buyer))
    assert r.status_code == 409 and r.json()["error"] == "refund_not_allowed"  # no policy: no cancel
    await set_policy(res, event_id, until=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert (await client.post(url, headers=auth(buyer))).json()["error"] == "refund_not_allowed"
    assert (await client.post(url, headers=auth(other))).status_code == 404

    await set_policy(res, event_id, until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1), fee=750)
    r = await client.post(url, headers=auth(buyer))
    assert r.status_code == 200, r.text
    assert r.json()["reason"] == "buyer" and r.json()["refund_cents"] == 4250 and r.json()["fee_cents"] == 750
    charge = await charge_of(res, purchase["id"])
    assert charge["refunded_cents"] == 4250 and charge["refunds"] == 1
    assert (await ticket_counts(res, event_id))["AVAILABLE"] == 100


async def test_buyers_see_the_cancel_policy_on_the_event_and_the_ticket(
    res: Resources, client: httpx.AsyncClient
) -> None:
    """What the event page and "My tickets" show: until when, the fee, and whether the buyer
    may cancel now; it agrees with what the refund answers."""
    event_id = await new_event(res, price_cents=5000)
    buyer = await new_customer(res)
    [purchase] = await buy(client, event_id, buyer)

    async def shown() -> tuple[dict[str, Any], dict[str, Any]]:
        event = (await client.get(f"/api/events/{event_id}")).json()
        ticket = (await client.get(f"/api/tickets/{purchase['id']}", headers=auth(buyer))).json()
        [listed] = (await client.get("/api/tickets", headers=auth(buyer))).json()
        assert {k: listed[k] for k in ticket if k.startswith("cancel")} == {
            k: v for k, v in ticket.items() if k.startswith("cancel")
        }
        return event["cancel_policy"], ticket

    policy, ticket = await shown()
    assert policy == {"buyer_cancel_until": None, "fee_cents": 0, "open": False}
    assert ticket["cancellable"] is False and ticket["cancel_until"] is None

    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await set_policy(res, event_id, until=past, fee=750)
    policy, ticket = await shown()
    assert policy["open"] is False and dt.datetime.fromisoformat(policy["buyer_cancel_until"]) == past
    assert ticket["cancellable"] is False and ticket["cancel_fee_cents"] == 750

    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    r = await client.patch(
        f"/api/events/{event_id}",
        json={"buyer_cancel_until": until.isoformat(), "cancel_fee_cents": 7500},
        headers=admin(res),
    )
    assert r.status_code == 200, r.text
    policy, ticket = await shown()
    assert policy == {"buyer_cancel_until": policy["buyer_cancel_until"], "fee_cents": 7500, "open": True}
    # The fee kept is at most the ticket's price.
    assert ticket["cancellable"] is True and ticket["cancel_fee_cents"] == 5000
    assert ticket["cancel_refund_cents"] == 0
    await set_policy(res, event_id, until=until, fee=750)
    ticket = (await shown())[1]
    assert ticket["cancel_fee_cents"] == 750 and ticket["cancel_refund_cents"] == 4250
    r = await client.post(f"/api/tickets/{purchase['id']}/refund", headers=auth(buyer))
    assert r.json()["fee_cents"] == 750 and r.json()["refund_cents"] == 4250
    ticket = (await shown())[1]
    assert ticket["state"] == "refunded" and ticket["cancellable"] is False


async def test_one_ticket_of_a_larger_purchase_is_refunded_alone(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id = await new_event(res, capacity=10, price_cents=3000, max_per_customer=3)
    buyer = await new_customer(res)
    purchases = await buy(client, event_id, buyer, quantity=3)
    r = await client.post(f"/api/tickets/{purchases[1]['id']}/refund", headers=admin(res))
    assert r.status_code == 200
    charge = await charge_of(res, purchases[0]["id"])
    assert (
        charge["amount_cents"] == 9000
        and charge["refunded_cents"] == 3000
        and charge["status"] == "succeeded"
    )
    assert await ticket_counts(res, event_id) == {"AVAILABLE": 8, "BOOKED": 2}


async def test_cancelling_an_event_refunds_every_purchase(
    res: Resources, client: httpx.AsyncClient, worker: Any
) -> None:
    import asyncio

    event_id = await new_event(res, capacity=5, price_cents=2000)
    buyers = [await new_customer(res) for _ in range(3)]
    bought = [(await buy(client, event_id, b))[0] for b in buyers]
    r = await client.post(f"/api/events/{event_id}/cancel", headers=admin(res))
    assert r.status_code == 202, r.text
    assert r.json()["purchases_to_refund"] == 3
    for _ in range(200):
        left = await res.pool.fetchval(
            "SELECT count(*) FROM purchases WHERE event_id = $1 AND refunded_at IS NULL", event_id
        )
        if left == 0:
            break
        await asyncio.sleep(0.05)
    assert left == 0
    for p in bought:
        assert (await charge_of(res, p["id"]))["status"] == "refunded"
    event = (await client.get(f"/api/events/{event_id}")).json()
    assert event["live"]["status"] == "closed" and event["live"]["available"] == 5
    r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(buyers[0]))
    assert r.status_code >= 400
    assert (await client.post(f"/api/events/{event_id}/cancel", headers=auth(buyers[0]))).status_code == 403

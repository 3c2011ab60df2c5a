"""Presale and discount codes through the API on real PostgreSQL and Redis (docs/codes.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from core.resources import Resources
from reservations.holds import service as holds_service
from tests.integration.reservations.sale_helpers import (
    PM_OK,
    admin,
    auth,
    charge_of,
    new_customer,
    new_event,
)

NOW = dt.datetime.now(dt.UTC)


async def create_code(client: httpx.AsyncClient, res: Resources, event_id: uuid.UUID, **body: Any) -> Any:
    r = await client.post(f"/api/events/{event_id}/codes", json=body, headers=admin(res))
    assert r.status_code == 201, r.text
    return r.json()


async def hold(
    client: httpx.AsyncClient, event_id: uuid.UUID, customer_id: uuid.UUID, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/events/{event_id}/holds", json={"quantity": 1, **body}, headers=auth(customer_id)
    )


async def confirm(client: httpx.AsyncClient, hold_id: str, customer_id: uuid.UUID) -> httpx.Response:
    return await client.post(
        f"/api/holds/{hold_id}/confirm",
        json={"payment_method": PM_OK},
        headers={**auth(customer_id), "Idempotency-Key": f"k-{hold_id}"},
    )


async def code_of(client: httpx.AsyncClient, res: Resources, event_id: uuid.UUID, code: str) -> Any:
    r = await client.get(f"/api/events/{event_id}/codes", headers=admin(res))
    assert r.status_code == 200, r.text
    [found] = [c for c in r.json() if c["code"] == code]
    return found


async def nothing_held(res: Resources, event_id: uuid.UUID) -> None:
    assert await res.pool.fetchval("SELECT count(*) FROM holds WHERE event_id = $1", event_id) == 0
    assert await res.pool.fetchval("SELECT count(*) FROM code_uses") == 0
    assert await res.pool.fetchval("SELECT coalesce(sum(uses), 0) FROM codes") == 0
    assert await res.pool.fetchval("SELECT coalesce(sum(taken), 0) FROM allowances") == 0


# ---------------------------------------------------------------------------- organizer


async def test_the_organizer_creates_lists_and_switches_off_codes(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res)
    created = await create_code(
        client, res, event_id, code=" summer-10 ", kind="discount", percent_off=10, max_uses=5
    )
    assert (
        created["code"] == "SUMMER-10"
        and created["percent_off"] == 10
        and created["amount_off_cents"] is None
    )
    assert created["max_uses"] == 5 and created["active"] is True
    assert (created["uses"], created["confirmed"], created["in_flight"], created["revenue_cents"]) == (
        0,
        0,
        0,
        0,
    )
    await create_code(client, res, event_id, code="EARLY", kind="access")

    # Unique per event, whatever the case; another event may have the same text.
    r = await client.post(
        f"/api/events/{event_id}/codes", json={"code": "Summer-10", "kind": "access"}, headers=admin(res)
    )
    assert r.status_code == 409 and r.json()["error"] == "code_taken" and r.json()["field"] == "code"
    other = await new_event(res)
    await create_code(client, res, other, code="summer-10", kind="access")

    listed = (await client.get(f"/api/events/{event_id}/codes", headers=admin(res))).json()
    assert [c["code"] for c in listed] == ["SUMMER-10", "EARLY"]

    r = await client.patch(
        f"/api/events/{event_id}/codes/summer-10", json={"active": False}, headers=admin(res)
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and r.json()["percent_off"] == 10
    r = await client.patch(f"/api/events/{event_id}/codes/NOPE", json={"active": False}, headers=admin(res))
    assert r.status_code == 404 and r.json()["error"] == "code_not_found"
    # The text, kind and amounts never change.
    r = await client.patch(f"/api/events/{event_id}/codes/EARLY", json={"percent_off": 5}, headers=admin(res))
    assert r.status_code == 400 and r.json()["field"] == "percent_off"


async def test_code_bodies_are_validated_and_write_nothing(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res)
    url = f"/api/events/{event_id}/codes"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"code": "ab", "kind": "access"}, "code"),
        ({"code": "has space", "kind": "access"}, "code"),
        ({"code": "ÉTÉ2026", "kind": "access"}, "code"),
        ({"code": "X" * 33, "kind": "access"}, "code"),
        ({"code": "GOOD", "kind": "discount"}, "percent_off"),
        ({"code": "GOOD", "kind": "discount", "percent_off": 10, "amount_off_cents": 100}, "percent_off"),
        ({"code": "GOOD", "kind": "discount", "percent_off": 101}, "percent_off"),
        ({"code": "GOOD", "kind": "discount", "percent_off": 0}, "percent_off"),
        ({"code": "GOOD", "kind": "access", "amount_off_cents": 100}, "percent_off"),
        ({"code": "GOOD", "kind": "vip"}, "kind"),
        ({"code": "GOOD", "kind": "access", "max_uses": 0}, "max_uses"),
        (
            {
                "code": "GOOD",
                "kind": "access",
                "valid_from": "2030-01-02T00:00:00Z",
                "valid_until": "2030-01-01T00:00:00Z",
            },
            "valid_until",
        ),
        ({"code": "GOOD", "kind": "access", "valid_until": "2030-01-01T00:00:00"}, "valid_until"),
        ({"code": "GOOD", "kind": "access", "extra": 1}, "extra"),
    ]
    for body, field in bad:
        r = await client.post(url, json=body, headers=admin(res))
        assert r.status_code == 400, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
    assert await res.pool.fetchval("SELECT count(*) FROM codes") == 0

    customer = await new_customer(res)
    assert (
        await client.post(url, json={"code": "GOOD", "kind": "access"}, headers=auth(customer))
    ).status_code == 403
    assert (await client.post(url, json={"code": "GOOD", "kind": "access"})).status_code == 401
    assert (await client.get(url, headers=auth(customer))).status_code == 403
    r = await client.post(
        f"/api/events/{uuid.uuid4()}/codes", json={"code": "GOOD", "kind": "access"}, headers=admin(res)
    )
    assert r.status_code == 404 and r.json()["error"] == "event_not_found"
    assert (await client.get(f"/api/events/{uuid.uuid4()}/codes", headers=admin(res))).status_code == 404


# ---------------------------------------------------------------------------- discounts


async def test_a_percent_code_after_half_price_is_paid_and_tracked(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res, price_cents=5001, half_price=True, max_per_customer=2)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="TEN", kind="discount", percent_off=10)
    r = await hold(client, event_id, buyer, quantity=2, half_price=1, code="ten")
    assert r.status_code == 201, r.text
    held = r.json()
    # Half price first (5001 // 2 = 2500), then 10 % off each, rounded down: 250 and 500.
    assert sorted(t["price_cents"] for t in held["tickets"]) == [2250, 4501]
    assert held["total_cents"] == 6751 and held["discount_cents"] == 750 and held["code"] == "TEN"
    again = (await client.get(f"/api/holds/{held['id']}", headers=auth(buyer))).json()
    assert again["tickets"] == held["tickets"] and again["total_cents"] == 6751 and again["code"] == "TEN"
    [listed] = (await client.get("/api/holds", headers=auth(buyer))).json()
    assert listed["discount_cents"] == 750 and sorted(t["price_cents"] for t in listed["tickets"]) == [
        2250,
        4501,
    ]
    tracked = await code_of(client, res, event_id, "TEN")
    assert (tracked["uses"], tracked["in_flight"], tracked["confirmed"]) == (1, 1, 0)

    r = await confirm(client, held["id"], buyer)
    assert r.status_code == 200, r.text
    assert r.json()["total_cents"] == 6751
    assert sorted(p["price_cents"] for p in r.json()["purchases"]) == [2250, 4501]
    charge = await charge_of(res, r.json()["purchases"][0]["id"])
    assert charge["amount_cents"] == 6751
    tracked = await code_of(client, res, event_id, "TEN")
    assert (tracked["uses"], tracked["in_flight"], tracked["confirmed"]) == (1, 0, 1)
    assert tracked["revenue_cents"] == 6751 and tracked["discount_cents"] == 750


async def test_an_amount_code_never_goes_below_zero_and_charges_nothing(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res, price_cents=3000)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="FREE50", kind="discount", amount_off_cents=5000)
    r = await hold(client, event_id, buyer, code="FREE50")
    assert r.status_code == 201, r.text
    assert r.json()["total_cents"] == 0 and r.json()["discount_cents"] == 3000
    r = await confirm(client, r.json()["id"], buyer)
    assert r.status_code == 200, r.text
    assert r.json()["payment_id"] is None and r.json()["purchases"][0]["price_cents"] == 0


async def test_a_code_of_one_ticket_type_applies_to_that_type_only(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(
        res,
        sections=[
            {"name": "Pista", "price_cents": 4000, "rows": 1, "seats_per_row": 4},
            {"name": "VIP", "price_cents": 9000, "rows": 1, "seats_per_row": 4},
        ],
        max_per_customer=4,
    )
    buyer = await new_customer(res)
    await create_code(
        client, res, event_id, code="VIPONLY", kind="discount", amount_off_cents=1000, ticket_type="VIP"
    )
    seats = {
        r["section"]: r["id"]
        for r in await res.pool.fetch(
            "SELECT DISTINCT ON (section) section, id FROM tickets WHERE event_id = $1", event_id
        )
    }
    r = await client.post(
        f"/api/events/{event_id}/holds",
        json={"seat_ids": [str(seats["Pista"])], "code": "VIPONLY"},
        headers=auth(buyer),
    )
    assert r.status_code == 422 and r.json()["error"] == "code_not_applicable" and r.json()["field"] == "code"
    await nothing_held(res, event_id)

    r = await client.post(
        f"/api/events/{event_id}/holds",
        json={"seat_ids": [str(seats["Pista"]), str(seats["VIP"])], "code": "VIPONLY"},
        headers=auth(buyer),
    )
    assert r.status_code == 201, r.text
    prices = {t["section"]: t["price_cents"] for t in r.json()["tickets"]}
    assert prices == {"Pista": 4000, "VIP": 8000} and r.json()["total_cents"] == 12000


async def test_bad_codes_on_a_hold_are_refused_and_write_nothing(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    await create_code(
        client,
        res,
        event_id,
        code="LATER",
        kind="discount",
        percent_off=5,
        valid_from=(NOW + dt.timedelta(days=1)).isoformat(),
    )
    await create_code(
        client,
        res,
        event_id,
        code="GONE",
        kind="discount",
        percent_off=5,
        valid_until=(NOW - dt.timedelta(days=1)).isoformat(),
    )
    await create_code(client, res, event_id, code="OFF", kind="discount", percent_off=5)
    await client.patch(f"/api/events/{event_id}/codes/OFF", json={"active": False}, headers=admin(res))
    cases = [
        ("NOSUCH", 422, "code_unknown"),
        ("OFF", 422, "code_unknown"),
        ("LATER", 422, "code_not_valid_now"),
        ("GONE", 422, "code_not_valid_now"),
        ("a b", 400, "invalid_input"),
        ("'; DROP TABLE codes; --", 400, "invalid_input"),
        ("x" * 65, 400, "invalid_input"),
    ]
    for code, status, error in cases:
        r = await hold(client, event_id, buyer, code=code)
        assert r.status_code == status, (code, r.text)
        assert r.json()["error"] == error and r.json()["field"] == "code", (code, r.json())
    await nothing_held(res, event_id)


async def test_an_exhausted_code_is_refused_and_a_cancel_gives_the_use_back(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res)
    first, second = await new_customer(res), await new_customer(res)
    await create_code(client, res, event_id, code="ONCE", kind="discount", percent_off=50, max_uses=1)
    r = await hold(client, event_id, first, code="ONCE")
    assert r.status_code == 201, r.text
    refused = await hold(client, event_id, second, code="ONCE")
    assert refused.status_code == 409 and refused.json()["error"] == "code_exhausted"
    assert refused.json()["field"] == "code"
    assert await res.pool.fetchval("SELECT count(*) FROM holds WHERE customer_id = $1", second) == 0
    check = await client.get(f"/api/events/{event_id}/codes/once/check")
    assert check.status_code == 409 and check.json()["error"] == "code_exhausted"
    # The organizer cannot lower the limit below the uses taken.
    r2 = await client.patch(f"/api/events/{event_id}/codes/ONCE", json={"max_uses": 1}, headers=admin(res))
    assert r2.status_code == 200

    assert (await client.delete(f"/api/holds/{r.json()['id']}", headers=auth(first))).status_code == 204
    assert (await code_of(client, res, event_id, "ONCE"))["uses"] == 0
    assert (
        await res.pool.fetchval("SELECT status FROM code_uses WHERE hold_id = $1", uuid.UUID(r.json()["id"]))
        == "released"
    )
    r = await hold(client, event_id, second, code="ONCE")
    assert r.status_code == 201, r.text


async def test_an_expired_hold_gives_its_use_back(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="ONCE", kind="discount", percent_off=50, max_uses=1)
    r = await hold(client, event_id, buyer, code="ONCE")
    hold_id = uuid.UUID(r.json()["id"])
    await res.pool.execute("UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", hold_id)
    async with res.pool.acquire() as conn:
        assert await holds_service.expire_holds(conn, res.redis) == 1
    used = await code_of(client, res, event_id, "ONCE")
    assert (used["uses"], used["in_flight"]) == (0, 0)
    assert (await hold(client, event_id, buyer, code="ONCE")).status_code == 201


async def test_max_uses_cannot_go_below_the_uses_taken(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res)
    a, b = await new_customer(res), await new_customer(res)
    await create_code(client, res, event_id, code="TWICE", kind="discount", percent_off=5, max_uses=2)
    await hold(client, event_id, a, code="TWICE")
    await hold(client, event_id, b, code="TWICE")
    r = await client.patch(f"/api/events/{event_id}/codes/TWICE", json={"max_uses": 1}, headers=admin(res))
    assert r.status_code == 400 and r.json()["field"] == "max_uses"
    assert (await code_of(client, res, event_id, "TWICE"))["max_uses"] == 2


async def test_a_refund_gives_the_use_back(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res, price_cents=2000)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="ONCE", kind="discount", amount_off_cents=500, max_uses=1)
    held = (await hold(client, event_id, buyer, code="ONCE")).json()
    [purchase] = (await confirm(client, held["id"], buyer)).json()["purchases"]
    assert purchase["price_cents"] == 1500
    assert (await code_of(client, res, event_id, "ONCE"))["confirmed"] == 1

    r = await client.post(f"/api/tickets/{purchase['id']}/refund", headers=admin(res))
    assert r.status_code == 200, r.text
    assert r.json()["refund_cents"] == 1500  # what was paid, not the list price
    tracked = await code_of(client, res, event_id, "ONCE")
    assert (tracked["uses"], tracked["confirmed"], tracked["revenue_cents"]) == (0, 0, 0)
    assert (await hold(client, event_id, buyer, code="ONCE")).status_code == 201


# ---------------------------------------------------------------------------- presale


async def test_an_access_code_holds_before_the_sale_opens(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res, sales_open_at=NOW + dt.timedelta(days=1))
    a, b, c = await new_customer(res), await new_customer(res), await new_customer(res)
    await create_code(client, res, event_id, code="FANCLUB", kind="access", max_uses=1)
    await create_code(client, res, event_id, code="TEN", kind="discount", percent_off=10)

    assert (await hold(client, event_id, a)).json()["error"] == "not_on_sale"
    assert (await hold(client, event_id, a, code="TEN")).json()["error"] == "not_on_sale"
    check = await client.get(f"/api/events/{event_id}/codes/fanclub/check")
    assert check.status_code == 200 and check.json()["presale"] is True and check.json()["kind"] == "access"
    r = await hold(client, event_id, b, code="fanclub")
    assert r.status_code == 201, r.text
    assert (
        r.json()["code"] == "FANCLUB" and r.json()["total_cents"] == 5000 and r.json()["discount_cents"] == 0
    )
    r = await hold(client, event_id, c, code="FANCLUB")
    assert r.status_code == 409 and r.json()["error"] == "code_exhausted"


async def test_an_access_code_stands_in_for_the_waiting_room_before_the_sale(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res, waiting_room=True, sales_open_at=NOW + dt.timedelta(days=1))
    buyer, other = await new_customer(res), await new_customer(res)
    await create_code(client, res, event_id, code="FANCLUB", kind="access")
    r = await hold(client, event_id, other, code="WRONG")
    assert r.status_code == 403 and r.json()["error"] == "admission_required"
    r = await hold(client, event_id, buyer, code="FANCLUB")
    assert r.status_code == 201, r.text


async def test_the_check_route_shows_the_discount(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res)
    await create_code(
        client, res, event_id, code="VIP5", kind="discount", amount_off_cents=500, ticket_type="VIP"
    )
    r = await client.get(f"/api/events/{event_id}/codes/vip5/check")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "code": "VIP5",
        "kind": "discount",
        "percent_off": None,
        "amount_off_cents": 500,
        "ticket_type": "VIP",
        "presale": False,
    }
    r = await client.get(f"/api/events/{event_id}/codes/NOPE/check")
    assert r.status_code == 422 and r.json()["error"] == "code_unknown" and r.json()["field"] == "code"
    r = await client.get(f"/api/events/{event_id}/codes/a%20b/check")
    assert r.status_code == 400 and r.json()["field"] == "code"


async def test_orders_take_no_code(client: httpx.AsyncClient, res: Resources) -> None:
    """Orders are the flash-sale path; a code there is refused clearly (codes go through
    holds), through the thin route and through Litestar alike, and nothing is queued."""
    event_id = await new_event(res)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="TEN", kind="discount", percent_off=10)
    body = {"event_id": str(event_id), "payment_method": PM_OK, "code": "TEN"}
    r = await client.post("/api/orders", json=body, headers={**auth(buyer), "Idempotency-Key": "o1"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "code_not_accepted" and r.json()["field"] == "code"
    assert await res.pool.fetchval("SELECT count(*) FROM orders") == 0
    del body["code"]
    r = await client.post("/api/orders", json=body, headers={**auth(buyer), "Idempotency-Key": "o2"})
    assert r.status_code == 202, r.text


async def test_a_confirm_finding_its_hold_overdue_gives_the_use_back(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="ONCE", kind="discount", percent_off=10, max_uses=1)
    held = (await hold(client, event_id, buyer, code="ONCE")).json()
    await res.pool.execute(
        "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(held["id"])
    )
    r = await confirm(client, held["id"], buyer)
    assert r.status_code == 410 and r.json()["error"] == "hold_expired"
    tracked = await code_of(client, res, event_id, "ONCE")
    assert (tracked["uses"], tracked["in_flight"], tracked["confirmed"]) == (0, 0, 0)


async def test_the_use_comes_back_once_every_ticket_bought_with_it_is_refunded(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res, price_cents=2000, max_per_customer=2)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="PAIR", kind="discount", amount_off_cents=500, max_uses=1)
    held = (await hold(client, event_id, buyer, quantity=2, code="PAIR")).json()
    assert held["total_cents"] == 3000 and held["discount_cents"] == 1000
    first, second = (await confirm(client, held["id"], buyer)).json()["purchases"]
    assert (await client.post(f"/api/tickets/{first['id']}/refund", headers=admin(res))).status_code == 200
    tracked = await code_of(client, res, event_id, "PAIR")
    assert (tracked["uses"], tracked["confirmed"], tracked["revenue_cents"]) == (1, 1, 1500)
    assert (await client.post(f"/api/tickets/{second['id']}/refund", headers=admin(res))).status_code == 200
    tracked = await code_of(client, res, event_id, "PAIR")
    assert (tracked["uses"], tracked["confirmed"], tracked["revenue_cents"]) == (0, 0, 0)


async def test_after_the_sale_opens_an_access_code_does_not_skip_the_waiting_room(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res, waiting_room=True)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="FANCLUB", kind="access")
    r = await hold(client, event_id, buyer, code="FANCLUB")
    assert r.status_code == 403 and r.json()["error"] == "admission_required"
    assert await res.pool.fetchval("SELECT count(*) FROM code_uses") == 0


async def test_a_presale_code_of_one_type_opens_that_type_only(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(
        res,
        sections=[
            {"name": "Pista", "price_cents": 4000, "rows": 1, "seats_per_row": 2},
            {"name": "VIP", "price_cents": 9000, "rows": 1, "seats_per_row": 2},
        ],
        max_per_customer=2,
        sales_open_at=NOW + dt.timedelta(days=1),
    )
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="VIPFANS", kind="access", ticket_type="VIP")
    seats = {
        r["section"]: str(r["id"])
        for r in await res.pool.fetch(
            "SELECT DISTINCT ON (section) section, id FROM tickets WHERE event_id = $1", event_id
        )
    }
    url = f"/api/events/{event_id}/holds"
    r = await client.post(
        url, json={"seat_ids": [seats["Pista"], seats["VIP"]], "code": "VIPFANS"}, headers=auth(buyer)
    )
    assert r.status_code == 422 and r.json()["error"] == "code_not_applicable", r.text
    await nothing_held(res, event_id)
    r = await client.post(url, json={"seat_ids": [seats["VIP"]], "code": "VIPFANS"}, headers=auth(buyer))
    assert r.status_code == 201, r.text
    assert r.json()["total_cents"] == 9000


# ---------------------------------------------------------------------------- at the checkout


async def apply(client: httpx.AsyncClient, hold_id: str, customer_id: uuid.UUID, code: str) -> httpx.Response:
    return await client.post(f"/api/holds/{hold_id}/code", json={"code": code}, headers=auth(customer_id))


async def test_a_code_applied_at_the_checkout_lowers_the_charge(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await new_event(res, price_cents=6000)
    buyer, other = await new_customer(res), await new_customer(res)
    await create_code(client, res, event_id, code="TEN", kind="discount", percent_off=10, max_uses=5)
    await create_code(client, res, event_id, code="FIVE", kind="discount", amount_off_cents=500)
    await create_code(client, res, event_id, code="FANS", kind="access")
    held = (await hold(client, event_id, buyer)).json()
    assert held["code"] is None and held["total_cents"] == 6000

    r = await apply(client, held["id"], other, "TEN")
    assert r.status_code == 403
    r = await apply(client, held["id"], buyer, "FANS")
    assert r.status_code == 422 and r.json()["error"] == "code_not_applicable"
    r = await apply(client, held["id"], buyer, "NOSUCH")
    assert r.status_code == 422 and r.json()["error"] == "code_unknown"
    assert await res.pool.fetchval("SELECT count(*) FROM code_uses") == 0

    r = await apply(client, held["id"], buyer, "ten")
    assert r.status_code == 200, r.text
    assert (r.json()["code"], r.json()["total_cents"], r.json()["discount_cents"]) == ("TEN", 5400, 600)
    assert r.json()["tickets"][0]["price_cents"] == 5400
    again = await apply(client, held["id"], buyer, "TEN")
    assert again.status_code == 200 and again.json()["total_cents"] == 5400
    r = await apply(client, held["id"], buyer, "FIVE")
    assert r.status_code == 409 and r.json()["error"] == "code_too_late" and r.json()["field"] == "code"
    assert (await code_of(client, res, event_id, "TEN"))["uses"] == 1

    r = await confirm(client, held["id"], buyer)
    assert r.status_code == 200, r.text
    assert (await charge_of(res, r.json()["purchases"][0]["id"]))["amount_cents"] == 5400
    r = await apply(client, held["id"], buyer, "FIVE")
    assert r.status_code == 409 and r.json()["error"] == "hold_not_active"


async def test_no_code_after_a_payment_was_attempted(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res, price_cents=6000)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="TEN", kind="discount", percent_off=10)
    held = (await hold(client, event_id, buyer)).json()
    r = await client.post(
        f"/api/holds/{held['id']}/confirm",
        json={"payment_method": "pm_card_chargeDeclined"},
        headers={**auth(buyer), "Idempotency-Key": "declined"},
    )
    assert r.status_code == 402
    r = await apply(client, held["id"], buyer, "TEN")
    assert r.status_code == 409 and r.json()["error"] == "code_too_late"
    assert await res.pool.fetchval("SELECT total_cents FROM holds") == 6000


async def test_the_hold_of_an_order_takes_no_code(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await new_event(res)
    buyer = await new_customer(res)
    await create_code(client, res, event_id, code="TEN", kind="discount", percent_off=10)
    held = (await hold(client, event_id, buyer)).json()
    await res.pool.execute(
        "INSERT INTO orders (id, event_id, customer_id, quantity, hold_id) VALUES ($1, $2, $3, 1, $4)",
        uuid.uuid4(),
        event_id,
        buyer,
        uuid.UUID(held["id"]),
    )
    r = await apply(client, held["id"], buyer, "TEN")
    assert r.status_code == 404 and r.json()["error"] == "hold_not_found"
    assert await res.pool.fetchval("SELECT count(*) FROM code_uses") == 0

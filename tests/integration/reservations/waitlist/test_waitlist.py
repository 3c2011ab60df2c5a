"""The waitlist through the API and its offer rounds, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import uuid
from typing import Any

import httpx
from websockets.asyncio.client import connect

from core.auth import issue_customer_token, issue_visitor_token
from core.resources import Resources
from reservations.holds import service as holds_service
from reservations.holds.schemas import HoldCreate
from reservations.waitlist import keys, offers
from reservations.waitlist.admission import encode_offer
from reservations.waitlist.offers import OfferRound
from tests.factories import make_customer, make_event, stock_counts
from tests.integration.reservations.orders.helpers import PM_DECLINED, post_order, wait_decided
from tests.wstickets import ws_url


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


def admin(res: Resources) -> dict[str, str]:
    return {"Authorization": f"Bearer {res.settings.admin_token}"}


async def sold_out_event(
    res: Resources, client: httpx.AsyncClient, *, capacity: int = 2, **event: Any
) -> Any:
    """An event whose every ticket is held by its own buyer; returns (event, hold ids, buyers)."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=capacity, **event)
        buyers = [await make_customer(conn) for _ in range(capacity)]
    holds = []
    for b in buyers:
        r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(b))
        assert r.status_code == 201, r.text
        holds.append(r.json()["id"])
    return event_id, holds, buyers


async def join(
    client: httpx.AsyncClient, event_id: uuid.UUID, body: Any, headers: Any = None
) -> httpx.Response:
    return await client.post(f"/api/events/{event_id}/waitlist", json=body, headers=headers or {})


async def round_of(res: Resources, event_id: uuid.UUID) -> OfferRound:
    async with res.pool.acquire() as conn:
        return await offers.offer_returned_tickets(conn, res.redis, event_id=event_id)


async def kept(res: Resources, event_id: uuid.UUID) -> list[Any]:
    return await res.pool.fetch(
        "SELECT id, offer_id FROM tickets WHERE event_id = $1 AND waitlist_kept ORDER BY id", event_id
    )


async def queued_mails(res: Resources) -> list[dict[str, Any]]:
    return [job.args[0] for job in await res.redis.queued_jobs() if job.function == "mail.send"]


async def test_join_refused_while_tickets_are_on_sale(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=3)
    r = await join(client, event_id, {"email": "a@example.com"})
    assert r.status_code == 409
    assert r.json()["error"] == "waitlist_not_sold_out"
    assert await res.pool.fetchval("SELECT count(*) FROM waitlist_entries") == 0


async def test_join_read_and_leave(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, _, _ = await sold_out_event(res, client)
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)

    anon = await join(client, event_id, {"email": " Ann@Example.com ", "quantity": 1})
    assert anon.status_code == 201, anon.text
    first = anon.json()
    assert first["position"] == 1 and first["status"] == "waiting" and first["email"] == "Ann@Example.com"
    assert first["entry_token"] and first["offer_token"] is None

    again = await join(client, event_id, {"email": "ann@example.com"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["entry_token"] is None  # no token to others

    mine = await join(client, event_id, {}, auth(customer))  # the account's address
    assert mine.status_code == 201 and mine.json()["position"] == 2
    assert (await join(client, event_id, {}, auth(customer))).json()["id"] == mine.json()["id"]

    by_token = await client.get(
        f"/api/events/{event_id}/waitlist/me", headers={"Waitlist-Token": first["entry_token"]}
    )
    assert by_token.status_code == 200 and by_token.json()["id"] == first["id"]
    by_account = await client.get(f"/api/events/{event_id}/waitlist/me", headers=auth(customer))
    assert by_account.json()["id"] == mine.json()["id"]

    left = await client.delete(
        f"/api/events/{event_id}/waitlist/me", headers={"Waitlist-Token": first["entry_token"]}
    )
    assert left.status_code == 204
    after = await client.get(f"/api/events/{event_id}/waitlist/me", headers=auth(customer))
    assert after.json()["position"] == 1  # the one ahead left
    gone = await client.get(
        f"/api/events/{event_id}/waitlist/me", headers={"Waitlist-Token": first["entry_token"]}
    )
    assert gone.json()["status"] == "left" and gone.json()["position"] is None


async def test_visitor_joins_with_an_address(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, _, _ = await sold_out_event(res, client)
    visitor = uuid.uuid4()
    headers = {"Authorization": f"Bearer {issue_visitor_token(visitor)}"}
    r = await join(client, event_id, {"email": "v@example.com"}, headers)
    assert r.status_code == 201
    assert await res.pool.fetchval("SELECT visitor_id FROM waitlist_entries") == visitor


async def test_bad_joins_name_the_field_and_write_nothing(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, _, _ = await sold_out_event(res, client)
    cases = [
        ({}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@example.com", "quantity": 2}, "quantity"),  # above max_per_customer 1
        ({"email": "a@example.com", "quantity": 0}, "quantity"),
        ({"email": "a@example.com", "ticket_type": "VIP"}, "ticket_type"),
        ({"email": "a@example.com", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = await join(client, event_id, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
    assert (await join(client, uuid.uuid4(), {"email": "a@example.com"})).status_code == 404
    bad = await client.get(f"/api/events/{event_id}/waitlist/me", headers={"Waitlist-Token": "forged"})
    assert bad.status_code == 404
    assert (await client.get(f"/api/events/{event_id}/waitlist/me")).status_code == 403
    assert await res.pool.fetchval("SELECT count(*) FROM waitlist_entries") == 0


async def test_organizer_lists_and_turns_it_off(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, _, buyers = await sold_out_event(res, client)
    for n in range(3):
        assert (await join(client, event_id, {"email": f"w{n}@example.com"})).status_code == 201
    assert (await client.get(f"/api/events/{event_id}/waitlist", headers=auth(buyers[0]))).status_code == 403
    listing = (await client.get(f"/api/events/{event_id}/waitlist", headers=admin(res))).json()
    assert listing["enabled"] is True and listing["waiting"] == 3
    assert [(e["position"], e["email"]) for e in listing["entries"]] == [
        (1, "w0@example.com"),
        (2, "w1@example.com"),
        (3, "w2@example.com"),
    ]
    off = await client.put(
        f"/api/events/{event_id}/waitlist/settings", json={"enabled": False}, headers=admin(res)
    )
    assert off.status_code == 200 and off.json()["enabled"] is False
    r = await join(client, event_id, {"email": "late@example.com"})
    assert r.status_code == 409 and r.json()["error"] == "waitlist_closed"
    forbidden = await client.put(
        f"/api/events/{event_id}/waitlist/settings", json={"enabled": True}, headers=auth(buyers[0])
    )
    assert forbidden.status_code == 403


async def test_a_returned_ticket_is_kept_offered_in_order_and_bought(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, holds, _ = await sold_out_event(res, client)
    async with res.pool.acquire() as conn:
        first, second, stranger = [await make_customer(conn) for _ in range(3)]
    assert (await join(client, event_id, {}, auth(first))).status_code == 201
    assert (await join(client, event_id, {"email": "second@example.com"}, auth(second))).status_code == 201

    assert (
        await client.delete(f"/api/holds/{holds[0]}", headers=auth(await hold_owner(res, holds[0])))
    ).status_code == 204
    # Kept for the waitlist by the transaction that returned it: nobody else may take it.
    assert len(await kept(res, event_id)) == 1
    taken = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(stranger))
    assert taken.status_code == 409 and taken.json()["error"] == "sold_out"
    event = (await client.get(f"/api/events/{event_id}")).json()
    assert event["live"]["available"] == 0

    done = await round_of(res, event_id)
    assert len(done.offered) == 1 and done.released == 0
    (pinned,) = await kept(res, event_id)
    entry = (await client.get(f"/api/events/{event_id}/waitlist/me", headers=auth(first))).json()
    assert pinned["offer_id"] == uuid.UUID(entry["id"])
    assert entry["status"] == "offered" and entry["offered_quantity"] == 1 and entry["seconds_left"] > 0
    assert entry["offer_token"] and entry["checkout_url"].endswith(entry["offer_token"])
    assert (await client.get(f"/api/events/{event_id}/waitlist/me", headers=auth(second))).json()[
        "position"
    ] == 1
    mails = [m for m in await queued_mails(res) if m["kind"] == "waitlist_offer"]
    assert len(mails) == 1 and entry["checkout_url"] in mails[0]["text"]

    offer = {"Admission-Token": entry["offer_token"]}
    stolen = await client.post(
        f"/api/events/{event_id}/holds", json={"quantity": 1}, headers={**auth(stranger), **offer}
    )
    assert stolen.status_code == 403 and stolen.json()["error"] == "offer_not_valid"
    hold = await client.post(
        f"/api/events/{event_id}/holds", json={"quantity": 1}, headers={**auth(first), **offer}
    )
    assert hold.status_code == 201, hold.text
    assert hold.json()["tickets"][0]["id"] == str(pinned["id"])
    paid = await client.post(
        f"/api/holds/{hold.json()['id']}/confirm",
        json={"payment_method": "pm_card_visa"},
        headers={**auth(first), "Idempotency-Key": "wl-1"},
    )
    assert paid.status_code == 200, paid.text
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert counts["BOOKED"] == 1 and counts["IN_PROGRESS"] == 1 and counts["AVAILABLE"] == 0
    assert await kept(res, event_id) == []

    await res.pool.execute("UPDATE waitlist_entries SET offer_expires_at = now() WHERE status = 'offered'")
    ended = await round_of(res, event_id)
    assert ended.ended == [uuid.UUID(entry["id"])]
    assert (
        await res.pool.fetchval("SELECT status FROM waitlist_entries WHERE id = $1", uuid.UUID(entry["id"]))
        == "used"
    )


async def hold_owner(res: Resources, hold_id: str) -> uuid.UUID:
    owner: uuid.UUID = await res.pool.fetchval(
        "SELECT customer_id FROM holds WHERE id = $1", uuid.UUID(hold_id)
    )
    return owner


async def test_an_unused_offer_passes_to_the_next(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, holds, _ = await sold_out_event(res, client)
    ids = []
    for n in range(2):
        ids.append((await join(client, event_id, {"email": f"w{n}@example.com"})).json()["id"])
    await client.delete(f"/api/holds/{holds[1]}", headers=admin(res))
    assert (await round_of(res, event_id)).offered == [uuid.UUID(ids[0])]
    assert (await round_of(res, event_id)).offered == []  # offered once

    await res.pool.execute("UPDATE waitlist_entries SET offer_expires_at = now() WHERE status = 'offered'")
    passed = await round_of(res, event_id)
    assert passed.ended == [uuid.UUID(ids[0])] and passed.offered == [uuid.UUID(ids[1])]
    statuses = dict(await res.pool.fetch("SELECT id::text, status FROM waitlist_entries"))
    assert statuses == {ids[0]: "expired", ids[1]: "offered"}
    (pinned,) = await kept(res, event_id)
    assert pinned["offer_id"] == uuid.UUID(ids[1])

    # The last one leaves: the ticket has no one left to wait for it and goes on sale.
    token = await entry_token_of(ids[1], event_id)
    assert (
        await client.delete(f"/api/events/{event_id}/waitlist/me", headers={"Waitlist-Token": token})
    ).status_code == 204
    assert (await round_of(res, event_id)).released == 1
    assert await kept(res, event_id) == []
    assert (await client.get(f"/api/events/{event_id}")).json()["live"]["available"] == 1


async def entry_token_of(entry_id: str, event_id: uuid.UUID) -> str:
    from reservations.waitlist.admission import encode_entry

    return encode_entry(entry_id=uuid.UUID(entry_id), event_id=event_id)


async def test_nothing_is_kept_without_a_waiting_entry(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, holds, _ = await sold_out_event(res, client)
    await client.delete(f"/api/holds/{holds[0]}", headers=admin(res))
    assert await kept(res, event_id) == []
    assert (await client.get(f"/api/events/{event_id}")).json()["live"]["available"] == 1


async def test_turning_it_off_releases_what_no_offer_holds(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, holds, _ = await sold_out_event(res, client, capacity=3)
    for n in range(2):
        assert (await join(client, event_id, {"email": f"w{n}@example.com"})).status_code == 201
    await client.delete(f"/api/holds/{holds[0]}", headers=admin(res))
    assert len((await round_of(res, event_id)).offered) == 1
    await client.put(f"/api/events/{event_id}/waitlist/settings", json={"enabled": False}, headers=admin(res))
    await client.delete(f"/api/holds/{holds[1]}", headers=admin(res))
    assert len(await kept(res, event_id)) == 1  # off: a returned ticket is not kept
    await client.delete(f"/api/holds/{holds[2]}", headers=admin(res))
    done = await round_of(res, event_id)
    assert done.offered == [] and done.released == 0
    still = await kept(res, event_id)
    assert len(still) == 1 and still[0]["offer_id"] is not None  # the offer made stays valid


async def test_an_entry_of_a_type_gets_only_that_type(res: Resources, client: httpx.AsyncClient) -> None:
    sections = [
        {"name": "VIP", "price_cents": 9000, "rows": 1, "seats_per_row": 1},
        {"name": "Pista", "price_cents": 3000, "rows": 1, "seats_per_row": 1},
    ]
    event_id, holds, _ = await sold_out_event(res, client, sections=sections)
    vip = (await join(client, event_id, {"email": "vip@example.com", "ticket_type": "VIP"})).json()["id"]
    sections_of = dict(
        await res.pool.fetch(
            "SELECT h.id::text, t.section FROM holds h JOIN tickets t ON t.hold_id = h.id"
            " WHERE h.event_id = $1",
            event_id,
        )
    )
    pista_hold = next(h for h in holds if sections_of[h] == "Pista")
    vip_hold = next(h for h in holds if sections_of[h] == "VIP")
    await client.delete(f"/api/holds/{pista_hold}", headers=admin(res))
    assert await kept(res, event_id) == []  # nobody waits for Pista
    await client.delete(f"/api/holds/{vip_hold}", headers=admin(res))
    assert (await round_of(res, event_id)).offered == [uuid.UUID(vip)]


async def test_a_stock_change_enqueues_a_round_the_worker_runs(
    res: Resources, client: httpx.AsyncClient, worker: Any
) -> None:
    event_id, holds, _ = await sold_out_event(res, client)
    entry = (await join(client, event_id, {"email": "w@example.com"})).json()
    assert await res.redis.exists(keys.waiting(event_id))
    await client.delete(f"/api/holds/{holds[0]}", headers=admin(res))
    for _ in range(100):
        status = await res.pool.fetchval(
            "SELECT status FROM waitlist_entries WHERE id = $1", uuid.UUID(entry["id"])
        )
        if status == "offered":
            break
        await asyncio.sleep(0.05)
    assert status == "offered"


async def test_an_expired_hold_s_ticket_is_kept_too(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, holds, _ = await sold_out_event(res, client)
    assert (await join(client, event_id, {"email": "w@example.com"})).status_code == 201
    await res.pool.execute("UPDATE holds SET expires_at = now() WHERE id = $1", uuid.UUID(holds[0]))
    async with res.pool.acquire() as conn:
        assert await holds_service.expire_holds(conn, res.redis) == 1
    assert len(await kept(res, event_id)) == 1
    assert len((await round_of(res, event_id)).offered) == 1


async def test_an_offer_stands_in_for_the_waiting_room_s_admission(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=1, waiting_room=True)
        holder, buyer = await make_customer(conn), await make_customer(conn)
    # Sold out through a hold taken without the queue (as an admitted buyer's would be).
    async with res.pool.acquire() as conn:
        hold = await holds_service.take_hold(
            conn, res.redis, event_id=event_id, customer_id=holder, request=HoldCreate(quantity=1)
        )
    assert (await join(client, event_id, {}, auth(buyer))).status_code == 201
    no_admission = await client.post(
        f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(buyer)
    )
    assert no_admission.status_code == 403 and no_admission.json()["error"] == "admission_required"
    await client.delete(f"/api/holds/{hold.id}", headers=admin(res))
    await round_of(res, event_id)
    entry = (await client.get(f"/api/events/{event_id}/waitlist/me", headers=auth(buyer))).json()
    with_offer = await client.post(
        f"/api/events/{event_id}/holds",
        json={"quantity": 1},
        headers={**auth(buyer), "Admission-Token": entry["offer_token"]},
    )
    assert with_offer.status_code == 201, with_offer.text


async def test_forged_or_foreign_offer_tokens_are_refused(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, holds, _ = await sold_out_event(res, client)
    other_event, _, _ = await sold_out_event(res, client)
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn)
    entry = (await join(client, event_id, {}, auth(buyer))).json()
    await client.delete(f"/api/holds/{holds[0]}", headers=admin(res))
    await round_of(res, event_id)
    token = (await client.get(f"/api/events/{event_id}/waitlist/me", headers=auth(buyer))).json()[
        "offer_token"
    ]
    head, payload, sig = token.split(".")
    forged = f"{head}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    past = encode_offer(
        entry_id=uuid.UUID(entry["id"]),
        event_id=event_id,
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5),
    )
    for bad, target in ((forged, event_id), (token, other_event), (past, event_id)):
        r = await client.post(
            f"/api/events/{target}/holds",
            json={"quantity": 1},
            headers={**auth(buyer), "Admission-Token": bad},
        )
        assert r.status_code == 403 and r.json()["error"] == "offer_not_valid", r.text
    assert await res.pool.fetchval("SELECT count(*) FROM holds WHERE customer_id = $1", buyer) == 0


async def test_a_part_of_what_an_entry_wants_is_offered_and_a_type_may_be_sold_out_alone(
    res: Resources, client: httpx.AsyncClient
) -> None:
    event_id, holds, _ = await sold_out_event(res, client, capacity=3, max_per_customer=2)
    two = (await join(client, event_id, {"email": "two@example.com", "quantity": 2})).json()
    await client.delete(f"/api/holds/{holds[0]}", headers=admin(res))
    await round_of(res, event_id)
    rows = await res.pool.fetch(
        "SELECT offered_quantity, status FROM waitlist_entries WHERE id = $1", uuid.UUID(two["id"])
    )
    assert [(r["offered_quantity"], r["status"]) for r in rows] == [(1, "offered")]

    sections = [
        {"name": "VIP", "price_cents": 9000, "rows": 1, "seats_per_row": 1},
        {"name": "Pista", "price_cents": 3000, "rows": 1, "seats_per_row": 2},
    ]
    async with res.pool.acquire() as conn:
        typed = await make_event(conn, sections=sections)
        vip_buyer = await make_customer(conn)
    vip_seat = await res.pool.fetchval(
        "SELECT id FROM tickets WHERE event_id = $1 AND section = 'VIP'", typed
    )
    r = await client.post(
        f"/api/events/{typed}/holds", json={"seat_ids": [str(vip_seat)]}, headers=auth(vip_buyer)
    )
    assert r.status_code == 201
    assert (await join(client, typed, {"email": "v@example.com", "ticket_type": "VIP"})).status_code == 201
    any_type = await join(client, typed, {"email": "p@example.com"})
    assert any_type.status_code == 409 and any_type.json()["error"] == "waitlist_not_sold_out"


async def test_the_called_buyer_hears_it_on_their_socket(res: Resources, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        event_id, holds, _ = await sold_out_event(res, client)
        async with res.pool.acquire() as conn:
            buyer = await make_customer(conn)
        entry = (await join(client, event_id, {}, auth(buyer))).json()
        async with connect(await ws_url(live_server, "/api/ws", issue_customer_token(buyer))) as ws:
            await asyncio.sleep(0.2)  # subscribed
            await client.delete(f"/api/holds/{holds[0]}", headers=admin(res))
            await round_of(res, event_id)
            message: dict[str, Any] = {}
            while message.get("type") != "waitlist_offer":
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert message["entry_id"] == entry["id"] and message["offered_quantity"] == 1
    assert message["checkout_url"].endswith(f"/events/{event_id}?offer={message['offer_token']}")


async def test_a_refunded_ticket_is_kept_and_offered(res: Resources, client: httpx.AsyncClient) -> None:
    event_id, holds, buyers = await sold_out_event(res, client, capacity=1)
    paid = await client.post(
        f"/api/holds/{holds[0]}/confirm",
        json={"payment_method": "pm_card_visa"},
        headers={**auth(buyers[0]), "Idempotency-Key": "wl-refund"},
    )
    assert paid.status_code == 200, paid.text
    entry = (await join(client, event_id, {"email": "w@example.com"})).json()
    refunded = await client.post(
        f"/api/tickets/{paid.json()['purchases'][0]['id']}/refund", headers=admin(res)
    )
    assert refunded.status_code == 200, refunded.text
    assert len(await kept(res, event_id)) == 1
    assert (await client.get(f"/api/events/{event_id}")).json()["live"]["available"] == 0
    assert (await round_of(res, event_id)).offered == [uuid.UUID(entry["id"])]


async def test_a_declined_order_s_ticket_is_kept_and_later_orders_are_sold_out(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=1)
        declined, later = await make_customer(conn), await make_customer(conn)
    # Someone is waiting (arranged directly: the event is not sold out yet).
    await res.pool.execute(
        "INSERT INTO waitlist_entries (event_id, email, quantity) VALUES ($1, 'w@example.com', 1)", event_id
    )
    first = uuid.UUID((await post_order(client, declined, event_id, card=PM_DECLINED)).json()["id"])
    assert (await wait_decided(res.pool, [first]))[first]["reason"] == "payment_declined"
    assert len(await kept(res, event_id)) == 1  # back from the order's hold, kept for the waitlist
    second = uuid.UUID((await post_order(client, later, event_id)).json()["id"])
    assert (await wait_decided(res.pool, [second]))[second]["reason"] == "sold_out"
    assert len((await round_of(res, event_id)).offered) == 1


async def test_the_seat_map_draws_a_kept_seat_as_held(res: Resources, client: httpx.AsyncClient) -> None:
    sections = [{"name": "A", "price_cents": 5000, "rows": 1, "seats_per_row": 1}]
    event_id, holds, _ = await sold_out_event(res, client, capacity=1, sections=sections)
    assert (await join(client, event_id, {"email": "w@example.com"})).status_code == 201
    await client.delete(f"/api/holds/{holds[0]}", headers=admin(res))
    seats = (await client.get(f"/api/events/{event_id}/seats")).json()
    assert [s["status"] for s in seats] == ["held"]


async def test_the_called_visitor_hears_it_on_their_queue_socket(res: Resources, live_server: str) -> None:
    """An anonymous waiting-room visitor who joined with an address is called on the queue
    socket too; another visitor's socket of the same event hears nothing of it."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, capacity=1, waiting_room=True)
        holder, signed_in = await make_customer(conn), await make_customer(conn)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        visitors = []
        for _ in range(2):
            placed = await client.post(f"/api/events/{event_id}/queue")
            assert placed.status_code == 200, placed.text
            visitors.append(placed.json()["visitor_token"])
        called, other = visitors
        async with res.pool.acquire() as conn:
            hold = await holds_service.take_hold(
                conn, res.redis, event_id=event_id, customer_id=holder, request=HoldCreate(quantity=1)
            )
        visitor_auth = {"Authorization": f"Bearer {called}"}
        joined = await join(client, event_id, {"email": "v@example.com"}, visitor_auth)
        assert joined.status_code == 201, joined.text
        path = f"/api/events/{event_id}/queue/ws"
        async with (
            connect(await ws_url(live_server, path, called)) as mine,
            connect(await ws_url(live_server, path, other)) as theirs,
        ):
            for ws in (mine, theirs):
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] in ("position", "sold_out")
            await client.delete(f"/api/holds/{hold.id}", headers=admin(res))
            assert (await round_of(res, event_id)).offered == [uuid.UUID(joined.json()["id"])]
            message: dict[str, Any] = {}
            while message.get("type") != "waitlist_offer":
                message = json.loads(await asyncio.wait_for(mine.recv(), 5))
            heard: list[str] = []
            deadline = asyncio.get_running_loop().time() + 2.5
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):  # the other socket: its own news only
                    while True:
                        heard.append(json.loads(await theirs.recv())["type"])
        assert "waitlist_offer" not in heard
        assert message["entry_id"] == joined.json()["id"] and message["offered_quantity"] == 1
        assert message["event_id"] == str(event_id) and "visitor" not in message
        assert message["checkout_url"].endswith(f"/events/{event_id}?offer={message['offer_token']}")
        # The visitor signs in at the checkout: the offer is their admission to hold.
        held = await client.post(
            f"/api/events/{event_id}/holds",
            json={"quantity": 1},
            headers={**auth(signed_in), "Admission-Token": message["offer_token"]},
        )
        assert held.status_code == 201, held.text

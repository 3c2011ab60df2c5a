"""Seat maps from the versioned snapshot: ETag and 304, gzip, the compact form, the
version moving on with every change of a ticket's state, never a stale map, and the
`seats` deltas on the event's live socket."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from core.auth import issue_customer_token
from core.resources import Resources
from reservations import keys
from reservations.events import seatmap
from reservations.holds import service as holds
from reservations.inventory import stock
from reservations.inventory.stock import stock_changed, stock_version
from reservations.live import service as live
from tests.factories import hold_rows, make_customer, make_customers, make_event

PM_OK = "pm_card_visa"  # the stub's test payment method of a card that succeeds
SECTIONS = [
    {"name": "Plateia", "price_cents": 5000, "rows": 13, "seats_per_row": 16},  # 208 seats
]


def auth(customer_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_customer_token(customer_id)}"}


async def seated(res: Resources, sections: list[dict[str, Any]] | None = None) -> uuid.UUID:
    async with res.pool.acquire() as conn:
        return await make_event(conn, sections=sections or SECTIONS, max_per_customer=4)


async def test_etag_and_304_round_trip(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await seated(res)
    first = await client.get(f"/api/events/{event_id}/seats")
    assert first.status_code == 200
    seats = first.json()
    assert len(seats) == 208
    assert set(seats[0]) == {"id", "section", "row", "number", "price_cents", "status"}
    etag = first.headers["etag"]
    assert etag.startswith('"') and first.headers["cache-control"] == "no-cache"

    again = await client.get(f"/api/events/{event_id}/seats", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = await client.get(f"/api/events/{event_id}/seats", headers={"If-None-Match": '"1-list"'})
    assert other.status_code == 200

    compact = await client.get(f"/api/events/{event_id}/seats", params={"format": "compact"})
    assert compact.status_code == 200 and compact.headers["etag"] != etag  # another representation
    assert (
        await client.get(
            f"/api/events/{event_id}/seats",
            params={"format": "compact"},
            headers={"If-None-Match": compact.headers["etag"]},
        )
    ).status_code == 304


async def test_gzip_once_and_compact_is_a_few_kb(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await seated(res)
    url = f"/api/events/{event_id}/seats"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.json() == plain.json()  # httpx unzips
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    refused = await client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers

    compact = await client.get(url, params={"format": "compact"}, headers={"Accept-Encoding": "gzip"})
    size = int(compact.headers["content-length"])
    assert size < 5000, size  # 208 seats: 25.8 kB as the plain list
    body = compact.json()
    assert body["event_id"] == str(event_id) and body["version"] > 0
    [section] = body["sections"]
    assert section["name"] == "Plateia" and section["price_cents"] == 5000 and len(section["rows"]) == 13
    row = section["rows"][0]
    assert row["label"] == "A" and row["numbers"] == list(range(1, 17)) and row["status"] == "a" * 16
    by_id = {s["id"]: s for s in plain.json()}
    assert [by_id[i]["row"] for i in row["ids"]] == ["A"] * 16

    raw = await client.get(url, params={"format": "compact"}, headers={"Accept-Encoding": "gzip"})
    assert raw.headers["etag"] == compact.headers["etag"]


async def test_version_moves_on_hold_cancel_confirm_and_expiry(
    client: httpx.AsyncClient, res: Resources
) -> None:
    event_id = await seated(res)
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn)
    url = f"/api/events/{event_id}/seats"

    async def state() -> tuple[int, str, dict[str, str]]:
        r = await client.get(url)
        return (
            await stock_version(res.redis, event_id=event_id),
            r.headers["etag"],
            {s["id"]: s["status"] for s in r.json()},
        )

    async def hold_seat(seat: str) -> dict[str, Any]:
        r = await client.post(f"/api/events/{event_id}/holds", json={"seat_ids": [seat]}, headers=auth(buyer))
        assert r.status_code == 201
        body: dict[str, Any] = r.json()
        return body

    v0, tag0, seats0 = await state()
    seat = next(iter(seats0))
    hold = await hold_seat(seat)
    v1, tag1, seats1 = await state()
    assert v1 > v0 and tag1 != tag0 and seats1[seat] == "held"

    assert (await client.delete(f"/api/holds/{hold['id']}", headers=auth(buyer))).status_code == 204
    v2, _, seats2 = await state()
    assert v2 > v1 and seats2[seat] == "available"

    hold = await hold_seat(seat)
    r = await client.post(
        f"/api/holds/{hold['id']}/confirm",
        json={"payment_method": PM_OK},
        headers={**auth(buyer), "Idempotency-Key": "k"},
    )
    assert r.status_code == 200
    v3, _, seats3 = await state()
    assert v3 > v2 and seats3[seat] == "sold"

    other = next(s for s, status in seats3.items() if status == "available")
    hold = await hold_seat(other)
    v4, _, _ = await state()
    await res.pool.execute(
        "UPDATE holds SET expires_at = now() - interval '1 s' WHERE id = $1", uuid.UUID(hold["id"])
    )
    async with res.pool.acquire() as conn:
        assert await holds.expire_hold(conn, res.redis, hold_id=uuid.UUID(hold["id"]))
    v5, _, seats5 = await state()
    assert v5 > v4 and seats5[other] == "available"


async def test_the_version_survives_losing_its_counter(client: httpx.AsyncClient, res: Resources) -> None:
    """Redis flushed: the counter starts again above every version it had, so a copy an
    API process kept is never taken for the new one."""
    event_id = await seated(res)
    before = await stock_version(res.redis, event_id=event_id)
    await res.redis.flushdb()
    await asyncio.sleep(0.001)
    assert await stock_version(res.redis, event_id=event_id) > before


async def test_never_a_stale_map_after_a_change(client: httpx.AsyncClient, res: Resources) -> None:
    """Readers hammer the map while customers hold seats; a read that starts after a hold's
    201 always shows that seat held."""
    event_id = await seated(res)
    async with res.pool.acquire() as conn:
        buyers = await make_customers(conn, 40)
    seats = [s["id"] for s in (await client.get(f"/api/events/{event_id}/seats")).json()]
    stop = asyncio.Event()

    async def read_storm() -> int:
        n = 0
        while not stop.is_set():
            await client.get(f"/api/events/{event_id}/seats", params={"format": "compact"})
            n += 1
        return n

    async def hold_then_read(buyer: uuid.UUID, seat: str) -> None:
        r = await client.post(f"/api/events/{event_id}/holds", json={"seat_ids": [seat]}, headers=auth(buyer))
        assert r.status_code == 201
        for fmt in ("list", "compact"):
            body = (await client.get(f"/api/events/{event_id}/seats", params={"format": fmt})).json()
            if fmt == "list":
                assert {s["id"]: s["status"] for s in body}[seat] == "held"
            else:
                letters = {
                    i: row["status"][k]
                    for sec in body["sections"]
                    for row in sec["rows"]
                    for k, i in enumerate(row["ids"])
                }
                assert letters[seat] == "h"

    readers = [asyncio.create_task(read_storm()) for _ in range(4)]
    await asyncio.gather(*(hold_then_read(b, s) for b, s in zip(buyers, seats, strict=False)))
    stop.set()
    assert all(n > 0 for n in await asyncio.gather(*readers))


async def test_a_reader_after_a_change_never_joins_an_older_build(
    res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that read its rows before a change is still running when a reader that saw
    the change arrives: that reader builds the new version itself, and the older build,
    ending last, does not replace it in the process's cache."""
    event_id = await seated(res)
    seatmap._cache.clear()
    entered, release = asyncio.Event(), asyncio.Event()
    real = seatmap._read

    async def held_first(*args: Any, **kwargs: Any) -> seatmap.Snapshot:
        snapshot = await real(*args, **kwargs)
        if not entered.is_set():  # the first build stops after reading its rows
            entered.set()
            await release.wait()
        return snapshot

    monkeypatch.setattr(seatmap, "_read", held_first)
    first = asyncio.create_task(seatmap.seat_map(res.pool, res.redis, event_id=event_id))
    await entered.wait()
    await stock_changed(res.redis, event_id=event_id)  # a change after those rows were read
    newer = await asyncio.wait_for(seatmap.seat_map(res.pool, res.redis, event_id=event_id), 5)
    release.set()
    older = await first
    assert newer.snapshot.version > older.snapshot.version
    assert newer.snapshot.version == await stock_version(res.redis, event_id=event_id)
    assert seatmap._cache[event_id] is newer


async def test_postgres_is_read_once_per_version(res: Resources, monkeypatch: pytest.MonkeyPatch) -> None:
    event_id = await seated(res)
    reads = 0
    real = seatmap._read

    async def counted(*args: Any, **kwargs: Any) -> seatmap.Snapshot:
        nonlocal reads
        reads += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(seatmap, "_read", counted)
    seatmap._cache.clear()
    maps = await asyncio.gather(
        *(seatmap.seat_map(res.pool, res.redis, event_id=event_id) for _ in range(50))
    )
    assert reads == 1 and len({id(m) for m in maps}) == 1
    seatmap._cache.clear()  # another API process: the snapshot comes from Redis
    await seatmap.seat_map(res.pool, res.redis, event_id=event_id)
    assert reads == 1


async def test_unknown_event_is_404(client: httpx.AsyncClient, res: Resources) -> None:
    r = await client.get(f"/api/events/{uuid.uuid4()}/seats")
    assert r.status_code == 404 and r.json()["error"] == "event_not_found"
    assert (await client.get(f"/api/events/{uuid.uuid4()}/seats", params={"format": "x"})).status_code == 400


async def next_of(ws: ClientConnection, kind: str, wait_s: float = 5.0) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait_s))
        if message["type"] == kind:
            return message


async def test_seat_deltas_reach_the_live_socket(res: Resources, live_server: str) -> None:
    event_id = await seated(res)
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn)
    url = live_server.replace("http://", "ws://", 1) + f"/api/events/{event_id}/live"
    async with connect(url) as ws, httpx.AsyncClient(base_url=live_server) as http:
        await next_of(ws, "ready")
        page = await http.get(f"/api/events/{event_id}/seats", params={"format": "compact"})
        version = page.json()["version"]
        async with res.pool.acquire() as conn:  # nothing changed: no delta
            await live.push_stock(conn, res.redis, res.publisher, event_id=event_id)
        seat = page.json()["sections"][0]["rows"][2]["ids"][5]
        r = await http.post(f"/api/events/{event_id}/holds", json={"seat_ids": [seat]}, headers=auth(buyer))
        assert r.status_code == 201
        async with res.pool.acquire() as conn:  # what the coalesced live.push_stock job runs
            await live.push_stock(conn, res.redis, res.publisher, event_id=event_id)
        delta = await next_of(ws, "seats")
        assert delta["since"] == version and delta["version"] > version
        assert delta["changes"] == [{"id": seat, "status": "held"}]
        fresh = (await http.get(f"/api/events/{event_id}/seats", params={"format": "compact"})).json()
        assert fresh["version"] == delta["version"]


async def test_without_a_base_the_delta_asks_pages_to_reload(res: Resources) -> None:
    """Redis lost the base (or it expired): the next delta has `since` 0."""
    event_id = await seated(res)
    async with res.pool.acquire() as conn:
        await seatmap.current_snapshot(conn, res.redis, event_id=event_id)
        await res.redis.delete(keys.seat_map_pushed(event_id))
        assert await seatmap.seat_changes(conn, res.redis, event_id=event_id) == (
            0,
            await stock_version(res.redis, event_id=event_id),
            [],
        )
        assert await seatmap.seat_changes(conn, res.redis, event_id=event_id) is None


async def test_a_delta_names_exactly_the_seats_that_changed(res: Resources) -> None:
    """A 2,000-seat map: sold, held, kept-for-the-waitlist and given-back seats between two
    pushes are exactly the delta; a seat dropped from the event makes it carry every seat;
    a base of another format (an earlier release's) makes pages reload."""
    event_id = await seated(res, [{"name": "Arena", "price_cents": 5000, "rows": 40, "seats_per_row": 50}])
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn)
        await seatmap.current_snapshot(conn, res.redis, event_id=event_id)
        seats = [r["id"] for r in await conn.fetch("SELECT id FROM tickets WHERE event_id = $1", event_id)]
        hold_id = await hold_rows(conn, event_id=event_id, customer_id=buyer, ticket_ids=seats[10:12])
        await conn.execute(
            "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE id = $1", seats[1500], buyer
        )
        await conn.execute("UPDATE tickets SET waitlist_kept = true WHERE id = $1", seats[7])
        await stock_changed(res.redis, event_id=event_id)
        since, version, changes = await seatmap.seat_changes(conn, res.redis, event_id=event_id) or (0, 0, [])
        assert since > 0 and version > since
        assert {(c.id, c.status) for c in changes} == {
            (seats[10], "held"),
            (seats[11], "held"),
            (seats[1500], "sold"),
            (seats[7], "held"),
        }
        # The held seats come back: only they change.
        await conn.execute(
            "UPDATE tickets SET status = 'AVAILABLE', hold_id = NULL, customer_id = NULL WHERE hold_id = $1",
            hold_id,
        )
        await stock_changed(res.redis, event_id=event_id)
        _, _, back = await seatmap.seat_changes(conn, res.redis, event_id=event_id) or (0, 0, [])
        assert {(c.id, c.status) for c in back} == {(seats[10], "available"), (seats[11], "available")}
        # One seat fewer: not the same seats, so every seat's status goes out.
        await conn.execute("DELETE FROM tickets WHERE id = $1", seats[0])
        await stock_changed(res.redis, event_id=event_id)
        _, _, every = await seatmap.seat_changes(conn, res.redis, event_id=event_id) or (0, 0, [])
        assert len(every) == 1999 and seats[0] not in {c.id for c in every}
        # A base in an earlier format: `since` 0, pages reload the map.
        await res.redis.set(keys.seat_map_pushed(event_id), b"\x93\x01\x90\xa0")
        await stock_changed(res.redis, event_id=event_id)
        since, _, none = await seatmap.seat_changes(conn, res.redis, event_id=event_id) or (9, 0, [None])
        assert (since, none) == (0, [])


async def test_the_live_push_job_is_enqueued_with_the_hold(client: httpx.AsyncClient, res: Resources) -> None:
    event_id = await seated(res)
    async with res.pool.acquire() as conn:
        buyers = [await make_customer(conn) for _ in range(3)]

    async def hold(buyer: uuid.UUID) -> str:
        r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(buyer))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def queued() -> set[str]:
        return {j.decode() for j in await res.redis.zrange("arq:queue", 0, -1)}

    hold_id = await hold(buyers[0])
    jobs = await queued()
    # The live push is enqueued; the hold enqueues no expiry job (the sweep expires it).
    assert f"live-stock:{event_id}" in jobs and f"hold-expire:{hold_id}" not in jobs
    # As if the push had run: a change while the gate stands enqueues nothing ...
    await res.redis.delete(f"arq:job:live-stock:{event_id}")
    await res.redis.zrem("arq:queue", f"live-stock:{event_id}")
    await hold(buyers[1])
    assert f"live-stock:{event_id}" not in await queued()
    # ... and once it is gone (before the deferred push would run), a change enqueues again.
    gate_ms = await res.redis.pttl(keys.live_push_gate(event_id))
    assert 0 < gate_ms <= stock.LIVE_PUSH_GATE_MS < stock.LIVE_PUSH_DELAY_S * 1000
    await asyncio.sleep(gate_ms / 1000 + 0.02)
    await hold(buyers[2])
    assert f"live-stock:{event_id}" in await queued()


async def test_a_costly_push_spaces_out_the_next(client: httpx.AsyncClient, res: Resources) -> None:
    """A push records what it took; the next is gated and deferred LIVE_PUSH_COST_FACTOR
    times that (a stadium's map is pushed less often), never less than the usual delay."""
    event_id = await seated(res)
    async with res.pool.acquire() as conn:
        buyer = await make_customer(conn)
        await live.push_stock(conn, res.redis, res.publisher, event_id=event_id)
    cost = int(await res.redis.get(keys.live_push_cost(event_id)))
    assert 0 < cost < 1000
    async with res.pool.acquire() as conn:  # a general-admission event's push has no map to pace it
        general = await make_event(conn, capacity=50_000)
        await live.push_stock(conn, res.redis, res.publisher, event_id=general)
    assert await res.redis.get(keys.live_push_cost(general)) is None
    await res.redis.set(keys.live_push_cost(event_id), 150)  # as if the last push took 150 ms
    before_ms = (await res.redis.time())[0] * 1000
    r = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(buyer))
    assert r.status_code == 201
    gate_ms = await res.redis.pttl(keys.live_push_gate(event_id))
    assert 150 * stock.LIVE_PUSH_COST_FACTOR - 200 < gate_ms <= 150 * stock.LIVE_PUSH_COST_FACTOR
    due_ms = await res.redis.zscore("arq:queue", f"live-stock:{event_id}")
    deferred_s = (due_ms - before_ms) / 1000
    expected_s = stock.LIVE_PUSH_DELAY_S * 150 * stock.LIVE_PUSH_COST_FACTOR / stock.LIVE_PUSH_GATE_MS
    assert expected_s - 0.1 < deferred_s < expected_s + 1.1  # past the gate

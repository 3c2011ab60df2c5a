"""The admission tick and the single use of admissions, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
import pytest
from redis.asyncio.client import PubSub

from core.resources import Resources
from tests.factories import make_customers, make_event, stock_counts
from tests.integration.waitingroom.support import (
    admit_use,
    end_hold,
    hold_in_sql,
    in_seconds,
    join,
    outstanding,
    tick,
    token_of,
)
from waitingroom import keys
from waitingroom.errors import AdmissionRequired
from waitingroom.service.lottery import commitment, draw_prefix, lottery_order
from waitingroom.service.organizer import get_room_stats, list_lottery_draws
from waitingroom.service.tokens import encode_admission


async def _heard(pubsub: PubSub, window_s: float) -> list[dict[str, Any]]:
    """The messages a subscription receives within `window_s`, decoded."""
    out = []
    deadline = asyncio.get_running_loop().time() + window_s
    while asyncio.get_running_loop().time() < deadline:
        m = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if m is not None:
            out.append(msgspec.json.decode(m["data"]))
    return out


async def test_fifo_admission_order_equals_join_order(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=10, max_admit_per_s=1000)
        ids = await make_customers(conn, 30)
    for c in ids:
        await join(res, event_id, c)

    admitted: list[str] = []
    for _ in range(3):
        result = await tick(res, event_id)
        assert len(result.admitted) == 10  # the stock budget: 10 left x factor 1
        assert (await tick(res, event_id)).admitted == []  # nothing more until some leave
        admitted += [a.customer_id for a in result.admitted]
        jtis = [int(a.jti) for a in result.admitted]
        assert jtis == sorted(jtis)
        for a in result.admitted:  # give the admissions up: the next ten come in
            await res.redis.zrem(keys.admitted(event_id), a.customer_id)
            await res.redis.hdel(keys.admission_ids(event_id), a.customer_id)

    assert admitted == [str(c) for c in ids]


async def test_budget_counts_outstanding_admissions_and_held_tickets(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=10, admission_factor=0.5)
        ids = await make_customers(conn, 12)
    for c in ids:
        await join(res, event_id, c)

    first = await tick(res, event_id, transit_ms=50)
    again = await tick(res, event_id, transit_ms=50)
    # Two visitors turn their admissions into holds: outstanding 3 + held 2 = 5, still full.
    async with res.pool.acquire() as conn:
        for a in first.admitted[:2]:
            await admit_use(res, event_id, uuid.UUID(a.customer_id), token_of(event_id, a))
            await hold_in_sql(conn, event_id, uuid.UUID(a.customer_id))
    await asyncio.sleep(0.06)
    after_holds = await tick(res, event_id, transit_ms=50)
    # One hold is confirmed: left 9 -> floor(4.5) = 4 < outstanding 3 + held 1 + ... nothing new.
    holds = await res.pool.fetch("SELECT id FROM holds WHERE event_id = $1", event_id)
    async with res.pool.acquire() as conn:
        await end_hold(conn, holds[0]["id"], confirmed=True)
    after_sale = await tick(res, event_id, transit_ms=50)
    # The other hold expires: left 9, held 0, outstanding 3 -> one more admission.
    async with res.pool.acquire() as conn:
        await end_hold(conn, holds[1]["id"], confirmed=False)
    after_expiry = await tick(res, event_id, transit_ms=50)

    assert len(first.admitted) == 5 and first.limit == 5
    assert again.admitted == []
    assert after_holds.admitted == []
    assert after_sale.admitted == [] and after_sale.limit == 4
    assert len(after_expiry.admitted) == 1
    assert await outstanding(res, event_id) == 4
    assert [a.customer_id for a in first.admitted + after_expiry.admitted] == [str(c) for c in ids[:6]]


async def test_used_admissions_count_until_their_hold_is_surely_committed(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=2)
        ids = await make_customers(conn, 4)
    for c in ids:
        await join(res, event_id, c)
    first = await tick(res, event_id)
    for a in first.admitted:  # used, but (say) the holds are still being written
        await admit_use(res, event_id, uuid.UUID(a.customer_id), token_of(event_id, a))

    during = await tick(res, event_id, transit_ms=400)
    await asyncio.sleep(0.45)
    after = await tick(res, event_id, transit_ms=400)

    assert len(first.admitted) == 2
    assert during.admitted == [] and during.in_transit == 2
    assert len(after.admitted) == 2 and after.in_transit == 0  # the holds never came


async def test_rate_cap_per_second(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=100, max_admit_per_s=5)
        ids = await make_customers(conn, 20)
    for c in ids:
        await join(res, event_id, c)
    a = await tick(res, event_id)
    b = await tick(res, event_id)
    await asyncio.sleep(1.05)
    c = await tick(res, event_id)
    assert (len(a.admitted), len(b.admitted), len(c.admitted)) == (5, 0, 5)
    assert c.rate > 0


async def test_unused_admissions_expire_and_their_place_goes_to_the_next(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=2)
        ids = await make_customers(conn, 4)
    for c in ids:
        await join(res, event_id, c)
    first = await tick(res, event_id, ttl_s=0.3)
    blocked = await tick(res, event_id, ttl_s=0.3)
    await asyncio.sleep(0.35)
    second = await tick(res, event_id, ttl_s=0.3)

    assert [a.customer_id for a in first.admitted] == [str(c) for c in ids[:2]]
    assert blocked.admitted == []
    assert second.expired == 2
    assert [a.customer_id for a in second.admitted] == [str(c) for c in ids[2:]]
    with pytest.raises(AdmissionRequired):
        await admit_use(res, event_id, ids[0], token_of(event_id, first.admitted[0]))


async def test_sold_out_is_broadcast_and_the_queue_resumes_when_stock_returns(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=1)
        ids = await make_customers(conn, 3)
    for c in ids:
        await join(res, event_id, c)
    pubsub = res.redis.pubsub()
    await pubsub.subscribe(keys.event_channel(event_id))

    first = await tick(res, event_id, transit_ms=1)
    buyer = uuid.UUID(first.admitted[0].customer_id)
    await admit_use(res, event_id, buyer, token_of(event_id, first.admitted[0]))
    async with res.pool.acquire() as conn:
        hold = await hold_in_sql(conn, event_id, buyer)
        held_tick = await tick(res, event_id, transit_ms=1)  # nothing available, one hold active
        await end_hold(conn, hold, confirmed=True)
    sold_tick = await tick(res, event_id, transit_ms=1)
    messages = await _heard(pubsub, 0.5)
    await pubsub.aclose()
    live_after_sold_out = await res.redis.sismember(keys.live_events(), str(event_id))

    # A purchase is refunded: the ticket is back on sale and the queue moves again.
    await res.pool.execute(
        "UPDATE tickets SET status = 'AVAILABLE', customer_id = NULL WHERE event_id = $1", event_id
    )
    resumed = await tick(res, event_id, transit_ms=1)

    assert held_tick.state == "open" and held_tick.admitted == []
    assert sold_tick.state == "sold_out" and sold_tick.admitted == []
    # The tick while held said nothing new within the second: not broadcast.
    assert [m["state"] for m in messages] == ["open", "sold_out"]
    assert not live_after_sold_out
    assert resumed.state == "open"
    assert [a.customer_id for a in resumed.admitted] == [str(ids[1])]


async def test_require_admission(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
        other_event = await make_event(conn, waiting_room=True, capacity=5)
        plain = await make_event(conn, waiting_room=False)
        a, b = await make_customers(conn, 2)
    await join(res, event_id, a)
    await join(res, other_event, a)
    await join(res, event_id, b)
    result = await tick(res, event_id)
    await tick(res, other_event)
    token_a = token_of(event_id, result.admitted[0])
    token_b = token_of(event_id, result.admitted[1])
    forged = encode_admission(
        customer_id=a, event_id=event_id, jti="999", expires_ms=result.admitted[0].expires_ms
    )

    await admit_use(res, plain, a, None)  # no waiting room: nothing asked
    await admit_use(res, uuid.uuid4(), a, None)  # unknown event: the hold answers 404 itself
    refusals: list[tuple[uuid.UUID, uuid.UUID, str | None]] = [
        (event_id, a, None),
        (event_id, a, ""),
        (event_id, a, "garbage"),
        (event_id, a, token_b),  # another customer's
        (event_id, a, forged),  # signed, but never issued
        (other_event, a, token_a),  # another event's
    ]
    for ev, customer, token in refusals:
        with pytest.raises(AdmissionRequired):
            await admit_use(res, ev, customer, token)
    before = await outstanding(res, event_id)
    await admit_use(res, event_id, a, token_a)
    after = await outstanding(res, event_id)
    with pytest.raises(AdmissionRequired, match="already used"):
        await admit_use(res, event_id, a, token_a)

    assert (before, after) == (2, 1)
    assert await res.redis.zcard(keys.in_transit(event_id)) == 1


async def test_concurrent_uses_of_one_admission_let_exactly_one_through(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
        (a,) = await make_customers(conn, 1)
    await join(res, event_id, a)
    token = token_of(event_id, (await tick(res, event_id)).admitted[0])

    outcomes = await asyncio.gather(
        *(admit_use(res, event_id, a, token) for _ in range(30)), return_exceptions=True
    )

    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, AdmissionRequired) for o in outcomes if o is not None)


async def test_lottery_order_recomputed_from_the_revealed_seed(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(
            conn, waiting_room=True, capacity=100, prequeue="lottery", sales_open_at=in_seconds(3600)
        )
        early = await make_customers(conn, 40)
        late = await make_customers(conn, 5)
    answers = [await join(res, event_id, c) for c in early]
    async with res.pool.acquire() as conn:
        before = await get_room_stats(conn, res.redis, event_id=event_id)
        record_before = await list_lottery_draws(conn, res.redis, event_id=event_id, offset=0, limit=100)
    not_yet = await tick(res, event_id)
    # The sale opens.
    await res.pool.execute(
        "UPDATE events SET sales_open_at = now() - interval '1 second' WHERE id = $1", event_id
    )
    for c in late:
        await join(res, event_id, c)
    result = await tick(res, event_id)
    async with res.pool.acquire() as conn:
        after = await get_room_stats(conn, res.redis, event_id=event_id)
        record = await list_lottery_draws(conn, res.redis, event_id=event_id, offset=0, limit=100)

    assert all(a.position is None and a.status == "waiting" for a in answers)
    assert {a.lottery_commitment for a in answers} == {before.lottery.commitment}  # type: ignore[union-attr]
    assert all(a.lottery_seed is None for a in answers)
    assert before.lottery is not None and before.lottery.seed is None and before.lottery.participants == 40
    assert record_before.seed is None and record_before.draws == []
    assert not_yet.admitted == []

    assert after.lottery is not None and after.lottery.revealed
    seed = after.lottery.seed
    assert seed is not None and commitment(seed) == before.lottery.commitment
    expected = lottery_order(seed, early) + [str(c) for c in late]
    assert [a.customer_id for a in result.admitted] == expected
    assert expected[:40] != [str(c) for c in early]  # the draw did shuffle
    assert record.draws == [draw_prefix(seed, c) for c in expected[:40]]
    assert record.participants == 40


async def test_stats_and_controls(res: Resources) -> None:
    from waitingroom.schemas import WaitingRoomPatch
    from waitingroom.service.organizer import update_room

    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=10)
        ids = await make_customers(conn, 6)
    for c in ids:
        await join(res, event_id, c)
    async with res.pool.acquire() as conn:
        paused = await update_room(conn, res.redis, event_id=event_id, patch=WaitingRoomPatch(paused=True))
    while_paused = await tick(res, event_id)
    async with res.pool.acquire() as conn:
        await update_room(
            conn,
            res.redis,
            event_id=event_id,
            patch=WaitingRoomPatch(paused=False, admission_factor=0.3, max_admit_per_s=7),
        )
    resumed = await tick(res, event_id)
    async with res.pool.acquire() as conn:
        stats = await get_room_stats(conn, res.redis, event_id=event_id)
        counts = await stock_counts(conn, event_id)

    assert paused.paused and paused.state == "paused" and paused.waiting == 6
    assert while_paused.state == "paused" and while_paused.admitted == []
    assert len(resumed.admitted) == 3  # floor(10 x 0.3)
    assert stats.admission_factor == 0.3 and stats.max_admit_per_s == 7 and not stats.paused
    assert (stats.waiting, stats.admitted_outstanding, stats.admitted_total) == (3, 3, 3)
    assert stats.available == counts["AVAILABLE"] == 10
    assert stats.admission_limit == 3
    assert stats.rate > 0
    assert stats.lottery is None


async def test_an_admission_counts_as_many_tickets_as_a_customer_may_hold(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=10, max_per_customer=3)
        ids = await make_customers(conn, 6)
    for c in ids:
        await join(res, event_id, c)
    result = await tick(res, event_id)
    assert len(result.admitted) == 3  # floor(10 / 3): each may hold up to 3 tickets


async def test_ticks_are_broadcast_at_most_once_a_second_but_a_new_state_at_once(res: Resources) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=2)
        ids = await make_customers(conn, 4)
    for c in ids:
        await join(res, event_id, c)
    pubsub = res.redis.pubsub()
    await pubsub.subscribe(keys.event_channel(event_id))

    for _ in range(5):  # five advances in a burst (holds, cancels, expiries advance the queue)
        await tick(res, event_id, transit_ms=1)
    burst = await _heard(pubsub, 0.3)
    await asyncio.sleep(1.0)
    later = await tick(res, event_id, transit_ms=1)
    after_a_second = await _heard(pubsub, 0.3)
    await res.redis.set(keys.broadcast_gate(event_id), b"1", px=60_000)  # well inside a second
    await res.pool.execute(
        "UPDATE tickets SET status = 'BOOKED', customer_id = $2 WHERE event_id = $1", event_id, ids[0]
    )
    sold_out = await tick(res, event_id, transit_ms=1)
    at_once = await _heard(pubsub, 0.3)
    await pubsub.aclose()

    assert [m["type"] for m in burst] == ["tick"]
    assert [m["served"] for m in after_a_second] == [later.served]
    assert sold_out.state == "sold_out"
    assert [m["state"] for m in at_once] == ["sold_out"]


async def test_the_budget_counts_only_ticket_types_on_sale_now(res: Resources) -> None:
    """Pista (5 tickets) sells now, VIP (100) opens tomorrow: the tick admits for Pista only
    until VIP opens (docs/ticket-types.md)."""
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=105, max_admit_per_s=1000)
        await conn.execute(
            """INSERT INTO sections (event_id, name, price_cents, capacity, position, sales_open_at)
               VALUES ($1, 'Pista', 5000, 5, 0, NULL), ($1, 'VIP', 9000, 100, 1, now() + interval '1 day')""",
            event_id,
        )
        await conn.execute(
            """UPDATE tickets t SET section = CASE WHEN n <= 5 THEN 'Pista' ELSE 'VIP' END
               FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM tickets WHERE event_id = $1) o
               WHERE t.id = o.id""",
            event_id,
        )
        ids = await make_customers(conn, 40)
    for c in ids:
        await join(res, event_id, c)

    first = await tick(res, event_id)
    assert (first.limit, len(first.admitted)) == (5, 5)  # not 105: VIP is not on sale yet

    async with res.pool.acquire() as conn:  # VIP opens: its 100 count from the next tick
        await conn.execute("UPDATE sections SET sales_open_at = NULL WHERE event_id = $1", event_id)
    opened = await tick(res, event_id)
    assert opened.limit == 105 and len(opened.admitted) == 35

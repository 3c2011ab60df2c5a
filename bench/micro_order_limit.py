"""Micro benchmark: what the order rate limit adds to the accept gate of POST /api/orders.

`python -m bench.micro_order_limit` with DATABASE_URL and REDIS_URL of scratch servers
(it writes one event and flushes the Redis database it is given). In one process, no
HTTP: `place_order` called by `CONCURRENCY` tasks at a time, `ROUNDS` rounds, each order
of a new customer, accepted; with the order limits on (counted, never reached) and off
(`0`: the check is skipped), alternated `REPEATS` times. Prints µs per order and Redis
round trips (batches) per order of each mode.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import sys
import time
import uuid

import asyncpg

CONCURRENCY = 200
ROUNDS = 25
REPEATS = 5


async def _event(database_url: str) -> uuid.UUID:
    from core.db import migrate
    from reservations.events.service import insert_event

    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        event_id = uuid.uuid4()
        async with conn.transaction():
            await insert_event(
                conn,
                event_id=event_id,
                name="bench",
                venue="",
                starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
                sales_open_at=None,
                price_cents=100,
                capacity=CONCURRENCY * ROUNDS * REPEATS * 2 + 1,
                sections=None,
            )
    finally:
        await conn.close()
    return event_id


async def _run(limited: bool, event_id: uuid.UUID) -> tuple[float, float]:
    from core.config import get_settings
    from core.resources import open_resources
    from reservations.orders.schemas import OrderCreate
    from reservations.orders.service import place_order

    value = "1000000" if limited else "0"
    os.environ["ORDER_LIMIT_PER_CUSTOMER"] = value
    os.environ["ORDER_LIMIT_PER_ADDRESS"] = value
    get_settings.cache_clear()
    res = await open_resources(get_settings())
    data = OrderCreate(event_id=event_id, card_number="4242424242424242")
    try:
        await place_order(res, customer_id=uuid.uuid4(), data=data, idempotency_key="warm", request_id=None,
                          client_ip="127.0.0.1")  # fmt: skip
        batches = res.redis_batch.batches
        start = time.perf_counter()
        for _ in range(ROUNDS):
            await asyncio.gather(
                *(
                    place_order(
                        res,
                        customer_id=uuid.uuid4(),
                        data=data,
                        idempotency_key=uuid.uuid4().hex,
                        request_id=None,
                        client_ip="127.0.0.1",
                    )
                    for _ in range(CONCURRENCY)
                )
            )
        elapsed = time.perf_counter() - start
        n = ROUNDS * CONCURRENCY
        return elapsed / n * 1e6, (res.redis_batch.batches - batches) / n
    finally:
        await res.close()


async def main() -> None:
    from core.config import get_settings

    event_id = await _event(get_settings().database_url)
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(REPEATS):
        for limited in (False, True):
            results[limited].append(await _run(limited, event_id))
    for limited, runs in results.items():
        us = statistics.median(r[0] for r in runs)
        trips = statistics.median(r[1] for r in runs)
        label = "limits on " if limited else "limits off"
        print(f"{label}: {us:7.1f} µs/order (median of {REPEATS}), {trips:.3f} Redis batches/order")
    off = statistics.median(r[0] for r in results[False])
    on = statistics.median(r[0] for r in results[True])
    print(f"cost of the limit: {on - off:+.1f} µs/order ({(on / off - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        sys.exit("set DATABASE_URL and REDIS_URL (scratch servers)")
    asyncio.run(main())

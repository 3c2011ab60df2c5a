"""Reconcile (an arq cron): repair Redis from PostgreSQL, check the invariants, and make
sure no accepted order is left off the orders stream.

- The order gate's event facts, every available count and sold-out flag are rebuilt from
  the rows (an event row with an infinite instant is skipped, logged and reported), and
  each event's count of accepted, unreserved tickets is recomputed from the orders that
  are still waiting for their reserve step (`recount_unreserved`).
- The invariant check records one row in `invariant_checks` per run: per event
  sold + held + available = capacity and purchases = sold; no ticket sold twice; no
  purchase of a ticket that is not booked to its buyer; no customer over the event's
  limit; every active hold keeps exactly its tickets and no ended one keeps any; every
  confirmed order has its purchases and a payment; no charge used twice.
- An accepted order still undecided after STALE_ORDER_S whose stream entry is gone (a
  worker gave up on it after its tries, or Redis lost the entry) is added to the stream
  again; the decision is idempotent, so a spare entry costs nothing. Orders PostgreSQL has
  as undecided but Redis has forgotten get an entry too, which rejects them
  (`payment_unavailable`): the payment method went with Redis.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from typing import Any

import msgspec
from arq.connections import ArqRedis

from core import queues
from core.db import Connection, queries_beside
from reservations import keys
from reservations.inventory.stock import queue_gate_stock
from reservations.orders.service import S, cache_event_meta

Q = queries_beside(__file__)
log = logging.getLogger("crowdpass.reconcile")

STALE_ORDER_S = 60
MAX_REQUEUE = 1000
MAX_LISTED = 100


class InvariantCheck(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    checked_at: dt.datetime
    ok: bool
    events: int
    violations: list[dict[str, Any]]


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    sold_out: int
    requeued: int
    check: InvariantCheck
    unreserved_repaired: int = 0
    skipped: list[uuid.UUID] = msgspec.field(default_factory=list)  # events whose row is bad


async def reconcile(
    conn: Connection, redis: ArqRedis, *, stale_order_s: float = STALE_ORDER_S
) -> ReconcileReport:

    metas, skipped = [], []
    for m in await conn.fetch(Q.all_order_gate_meta):
        if m["sane"]:
            metas.append(m)
        else:
            skipped.append(m["id"])
            log.warning("reconcile skipped event %s: a stored instant is infinite", m["id"])
    await cache_event_meta(redis, rows=metas)
    counts = await conn.fetch(Q.check_event_counts)
    types: dict[uuid.UUID, dict[str, int]] = {}
    for t in await conn.fetch(Q.all_types_available):
        types.setdefault(t["event_id"], {})[t["name"]] = t["available"]
    sold_out = await _rebuild_gate_stock(redis, counts, types)
    repaired = await recount_unreserved(conn, redis, event_ids=[m["id"] for m in metas])
    check = await check_invariants(conn, counts=counts)
    requeued = await requeue_stale_orders(conn, redis, older_than_s=stale_order_s)
    return ReconcileReport(
        events=len(metas),
        sold_out=sold_out,
        requeued=requeued,
        check=check,
        unreserved_repaired=repaired,
        skipped=skipped,
    )


async def _rebuild_gate_stock(
    redis: ArqRedis, counts: list[Any], types: dict[uuid.UUID, dict[str, int]]
) -> int:
    flagged = 0
    async with redis.pipeline(transaction=False) as pipe:
        for c in counts:
            queue_gate_stock(pipe, event_id=c["id"], available=c["available"], types=types.get(c["id"]))
            flagged += c["available"] == 0
        await pipe.execute()
    return flagged


async def recount_unreserved(conn: Connection, redis: ArqRedis, *, event_ids: list[uuid.UUID]) -> int:
    """Recompute each event's count of accepted, unreserved tickets: drop the orders that
    are past their reserve step in PostgreSQL (a worker died before releasing them) or
    that Redis no longer has as queued, and set the total to the sum of the rest. Returns
    how many events' totals were wrong."""
    if not event_ids:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for event_id in event_ids:
            pipe.hgetall(keys.orders_unreserved(event_id))
        tables = await pipe.execute()
    repaired = 0
    for event_id, table in zip(event_ids, tables, strict=True):
        if not table:
            continue
        counted = [f.decode() for f in table if f != b"total"]
        gone = await _no_longer_unreserved(conn, redis, counted)
        before, after = await S.recount_unreserved(
            redis,
            [
                keys.orders_unreserved(event_id),
                keys.orders_unreserved_seq(event_id),
                keys.orders_unreserved_types(event_id),
            ],
            gone,
        )
        repaired += int(before) != int(after)
    return repaired


async def _no_longer_unreserved(conn: Connection, redis: ArqRedis, order_ids: list[str]) -> list[str]:
    ids: dict[str, uuid.UUID] = {}
    gone: list[str] = []
    for raw in order_ids:
        try:
            ids[raw] = uuid.UUID(raw)
        except ValueError:
            gone.append(raw)
    if not ids:
        return gone
    past = {str(r["id"]) for r in await conn.fetch(Q.orders_past_reserve, list(ids.values()))}
    async with redis.pipeline(transaction=False) as pipe:
        for raw in ids:
            pipe.hget(keys.order(raw), "status")
        statuses = await pipe.execute()
    for raw, status in zip(ids, statuses, strict=True):
        if raw in past or status != b"queued":
            gone.append(raw)
    return gone


async def check_invariants(conn: Connection, *, counts: list[Any] | None = None) -> InvariantCheck:
    """Run every check in one snapshot and record the result."""
    violations: list[dict[str, Any]] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if counts is None:
            counts = list(await conn.fetch(Q.check_event_counts))
        for c in counts:
            total = c["sold"] + c["held"] + c["available"]
            if total != c["capacity"]:
                violations.append(
                    {
                        "check": "stock_adds_up",
                        "event_id": str(c["id"]),
                        "capacity": c["capacity"],
                        "sold": c["sold"],
                        "held": c["held"],
                        "available": c["available"],
                    }
                )
            if c["purchases"] != c["sold"]:
                violations.append(
                    {
                        "check": "purchases_match_sold",
                        "event_id": str(c["id"]),
                        "sold": c["sold"],
                        "purchases": c["purchases"],
                    }
                )
        for r in await conn.fetch(Q.check_tickets_sold_twice, MAX_LISTED):
            violations.append(
                {"check": "sold_once", "ticket_id": str(r["ticket_id"]), "purchases": r["purchases"]}
            )
        for r in await conn.fetch(Q.check_purchases_of_unbooked, MAX_LISTED):
            violations.append(
                {
                    "check": "purchase_has_booked_ticket",
                    "purchase_id": str(r["purchase_id"]),
                    "ticket_id": str(r["ticket_id"]),
                    "status": r["status"],
                }
            )
        for r in await conn.fetch(Q.check_customers_over_limit, MAX_LISTED):
            violations.append(
                {
                    "check": "per_customer_limit",
                    "event_id": str(r["event_id"]),
                    "customer_id": str(r["customer_id"]),
                    "tickets": r["tickets"],
                    "limit": r["max_per_customer"],
                }
            )
        for r in await conn.fetch(Q.check_type_counts, MAX_LISTED):
            counted = {k: r[k] for k in ("capacity", "sold", "held", "available")}
            violations.append(
                {
                    "check": "type_stock_adds_up",
                    "event_id": str(r["event_id"]),
                    "ticket_type": r["name"],
                    **counted,
                }
            )
        for r in await conn.fetch(Q.check_customers_over_type_limit, MAX_LISTED):
            violations.append(
                {
                    "check": "per_type_limit",
                    "event_id": str(r["event_id"]),
                    "ticket_type": r["section"],
                    "customer_id": str(r["customer_id"]),
                    "tickets": r["tickets"],
                    "limit": r["max_per_customer"],
                }
            )
        for r in await conn.fetch(Q.check_held_tickets_match_holds, MAX_LISTED):
            held = {k: r[k] for k in ("status", "quantity", "held")}
            violations.append({"check": "held_tickets_match_holds", "hold_id": str(r["id"]), **held})
        for r in await conn.fetch(Q.check_confirmed_orders, MAX_LISTED):
            violations.append(
                {
                    "check": "confirmed_order_complete",
                    "order_id": str(r["id"]),
                    "quantity": r["quantity"],
                    "purchases": r["purchases"],
                    "paid": r["payment_id"] is not None,
                }
            )
        for r in await conn.fetch(Q.check_payments_reused, MAX_LISTED):
            violations.append({"check": "charge_used_once", "payment_id": r["payment_id"], "uses": r["uses"]})
    row = await conn.fetchrow(Q.insert_invariant_check, not violations, len(counts), json.dumps(violations))
    return invariant_check_from_row(row)


def invariant_check_from_row(row: Any) -> InvariantCheck:
    violations = row["violations"]
    return InvariantCheck(
        id=row["id"],
        checked_at=row["checked_at"],
        ok=row["ok"],
        events=row["events"],
        violations=json.loads(violations) if isinstance(violations, str) else list(violations),
    )


async def _entry_alive(redis: ArqRedis, entry_id: bytes | None) -> bool:
    """The order's stream entry is still there (waiting, or read and not acknowledged)."""
    if not entry_id:
        return False
    return bool(await redis.xrange(queues.ORDERS_QUEUE, entry_id, entry_id))


async def add_to_stream(redis: ArqRedis, *, order_id: str, request_id: str | None) -> bytes:
    """Append an accepted order to the orders stream (again); returns the entry id."""
    entry: bytes = await redis.xadd(
        queues.ORDERS_QUEUE, {"order_id": order_id, "request_id": request_id or ""}
    )
    return entry


async def requeue_stale_orders(conn: Connection, redis: ArqRedis, *, older_than_s: float) -> int:
    """Add to the stream again every accepted order older than `older_than_s` whose entry
    is gone. Returns how many were added."""
    cutoff_ms = int((time.time() - older_than_s) * 1000)
    requeued = 0
    stale = await redis.zrangebyscore(keys.orders_pending(), "-inf", cutoff_ms, start=0, num=MAX_REQUEUE)
    for raw in stale:
        order_id = raw.decode()
        record_key = keys.order(order_id)
        entry, request_id, status = await redis.hmget(record_key, ["entry", "request_id", "status"])  # type: ignore[misc]
        if status is None or status != b"queued":
            await redis.zrem(keys.orders_pending(), order_id)
            continue
        if await _entry_alive(redis, entry):
            continue
        new = await add_to_stream(
            redis, order_id=order_id, request_id=request_id.decode() if request_id else None
        )
        await redis.hset(record_key, "entry", new.decode())  # type: ignore[misc]
        requeued += 1
    cutoff = dt.datetime.fromtimestamp(cutoff_ms / 1000, dt.UTC)
    for r in await conn.fetch(Q.queued_orders_before, cutoff, MAX_REQUEUE):
        order_id = str(r["id"])
        if await redis.exists(keys.order(order_id)):
            continue  # handled above when its entry is gone
        # Its record is gone: one spare entry per STALE_ORDER_S is enough.
        if not await redis.set(keys.order_requeued(order_id), 1, nx=True, ex=STALE_ORDER_S):
            continue
        await add_to_stream(redis, order_id=order_id, request_id=None)
        requeued += 1
    return requeued

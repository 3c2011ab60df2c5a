"""Deciding accepted orders (the `ticket_orders` worker).

Each order goes through three steps, the database ones batched across the orders a worker
is deciding at the same moment (`OrderDesk`, group commit):

1. reserve (one transaction per batch): write the order row once, count the tickets
   against the customer's allowance, claim tickets (`SKIP LOCKED`) and keep them under a
   hold row linked to the order — or decide the order `rejected` (`sold_out`,
   `limit_reached`, `event_closed`). First come, first served: one reserve step per event
   at a time, tickets given out in the order's `seq` (acceptance order), never taking
   tickets that earlier orders still waiting for their own reserve step need (those the
   caller passes as `ahead`); an order that cannot be served without them waits
   (`Waiting`), and once an order is rejected `sold_out` every later one of the event is.
2. charge the payments provider once per order, with the provider key `order-<id>`;
   outside any transaction.
3. settle (one transaction per batch): book the held tickets and write the purchases
   (`confirmed`), or give the tickets back (`rejected`, `payment_declined`).

A job that dies at any point is run again and resumes: the order row, its hold and the
provider key survive, so a retry neither takes a second ticket nor charges twice. After
the decision the customer hears it on their channel, the event's live channel hears of
the purchase, and the Redis record of the order is closed (`lua/finish_order.lua`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from core.db import Connection, queries_beside
from reservations.inventory import service as tickets
from reservations.orders.schemas import Order
from reservations.orders.service import load_orders

Q = queries_beside(__file__)

log = logging.getLogger("crowdpass.orders")

# An order's hold outlives any worker restart; the hold sweeper ends it only if the order
# could not be settled for this long.
ORDER_HOLD_S = 3600
DECIDED_RECORD_TTL_S = 3600
# Job tries with the payment provider unavailable before the order is rejected.
PAYMENT_TRIES = 6


class RetryLater(Exception):
    """The order cannot be decided now (database or provider busy); run the job again."""

    def __init__(self, reason: str, *, delay_s: float) -> None:
        self.delay_s = delay_s
        super().__init__(reason)


class WaitForProvider(RetryLater):
    """The payment provider is away (no answer, or its circuit open): the order keeps its
    tickets and is charged again after `delay_s`, until its deadline (PAYMENTS_DEADLINE_S
    after acceptance). Not a failure: it does not count as a try."""


class WaitForEarlier(RetryLater):
    """Earlier orders of the event need the tickets left and are not reserved yet: try
    again in a moment (not a failure: it does not count as a try)."""


@dataclass(frozen=True, slots=True)
class Intent:
    """An accepted order, as its Redis record describes it."""

    order_id: uuid.UUID
    event_id: uuid.UUID
    customer_id: uuid.UUID
    quantity: int
    accepted_at: dt.datetime
    request_id: str | None
    seq: int | None = None  # the event's order sequence number given by the gate
    ticket_type: str | None = None  # the type the order names (None: any, docs/ticket-types.md)


@dataclass(frozen=True, slots=True)
class Reserved:
    hold_id: uuid.UUID
    total_cents: int


@dataclass(frozen=True, slots=True)
class Decided:
    order: Order
    customer_id: uuid.UUID
    customer_name: str
    now: bool  # decided by this call (not found already decided)


@dataclass(frozen=True, slots=True)
class Missing:
    """PostgreSQL has no such event or customer: the order cannot be written."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """Earlier orders of the event may need the tickets that are left: not decided yet."""


Reservation = Reserved | Decided | Missing | Waiting


@dataclass(frozen=True, slots=True)
class Settlement:
    order_id: uuid.UUID
    hold_id: uuid.UUID
    payment_id: str | None  # set: confirm; None: reject with `reason`
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    decided: Decided
    hold_lost: bool  # the hold had ended before the settlement: a charge must be refunded


# --- step 1: reserve ---------------------------------------------------------------------


async def reserve_orders(
    conn: Connection,
    *,
    intents: Sequence[Intent],
    lock_timeout_ms: int,
    statement_timeout_ms: int | None = None,
    hold_s: int = ORDER_HOLD_S,
    ahead: Mapping[uuid.UUID, Sequence[tuple[int, int]]] | None = None,
) -> tuple[dict[uuid.UUID, Reservation], set[uuid.UUID]]:
    """Reserve tickets for a batch of orders in one transaction.

    `ahead`: per event, (seq, quantity) of the accepted orders not in this batch that are
    not reserved yet (read from Redis before this call), in seq order.
    Returns each order's reservation and the events whose stock changed.
    """
    unique = {i.order_id: i for i in intents}
    ordered = sorted(unique.values(), key=lambda i: i.order_id)
    out: dict[uuid.UUID, Reservation] = {}
    rejected: dict[uuid.UUID, str] = {}
    changed: set[uuid.UUID] = set()
    already: list[uuid.UUID] = []
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, lock_timeout_ms, statement_ms=statement_timeout_ms)
        for event_id in sorted({i.event_id for i in ordered}):
            await conn.execute(Q.lock_event_reserves, event_id)
        await conn.execute(
            Q.insert_orders,
            [i.order_id for i in ordered],
            [i.event_id for i in ordered],
            [i.customer_id for i in ordered],
            [i.quantity for i in ordered],
            [i.accepted_at for i in ordered],
            [i.request_id for i in ordered],
            [i.seq for i in ordered],
            [i.ticket_type for i in ordered],
        )
        rows = {r["id"]: r for r in await conn.fetch(Q.lock_orders, [i.order_id for i in ordered])}
        # Orders are served per event and ticket type: first come, first served within each.
        to_claim: dict[tuple[uuid.UUID, str | None], list[asyncpg.Record]] = defaultdict(list)
        for intent in sorted(ordered, key=lambda i: i.accepted_at):
            row = rows.get(intent.order_id)
            if row is None:
                out[intent.order_id] = Missing()
            elif row["status"] != "queued":
                already.append(intent.order_id)
            elif row["hold_id"] is not None and row["hold_status"] == "active":
                out[intent.order_id] = Reserved(hold_id=row["hold_id"], total_cents=row["total_cents"])
            elif row["event_closed"]:
                rejected[intent.order_id] = "event_closed"
            else:
                to_claim[row["event_id"], row["ticket_type"]].append(row)
        for (event_id, ticket_type), group in sorted(to_claim.items(), key=_unit_order):
            reserved = await _reserve_event(
                conn,
                event_id=event_id,
                ticket_type=ticket_type,
                rows=group,
                hold_s=hold_s,
                out_rejected=rejected,
                ahead=(ahead or {}).get(event_id, ()),
            )
            out.update(reserved)
            if reserved:
                changed.add(event_id)
        if rejected:
            await conn.execute(Q.reject_orders, list(rejected), list(rejected.values()))
        decided_ids = [*rejected, *already]
        views = await load_orders(conn, order_ids=decided_ids) if decided_ids else {}
    for order_id in decided_ids:
        v = views[order_id]
        out[order_id] = Decided(
            order=v.order, customer_id=v.customer_id, customer_name=v.customer_name, now=order_id in rejected
        )
    return out, changed


def _unit_order(item: tuple[tuple[uuid.UUID, str | None], list[asyncpg.Record]]) -> tuple[uuid.UUID, str]:
    """Events, and within one its orders without a type first, then by type name."""
    (event_id, ticket_type), _ = item
    return event_id, ticket_type or ""


async def _reserve_event(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    ticket_type: str | None,
    rows: list[asyncpg.Record],
    hold_s: int,
    out_rejected: dict[uuid.UUID, str],
    ahead: Sequence[tuple[int, int]],
) -> dict[uuid.UUID, Reservation]:
    """Orders of one event and ticket type (None: any), under the event's reserve lock,
    first come first served. `ahead` holds the earlier unreserved orders of every type: an
    order may wait for orders of another type, never be refused for them."""
    limit = rows[0]["max_per_customer"]
    reserved: dict[uuid.UUID, Reservation] = {}
    allowed = await _take_allowances(
        conn, event_id=event_id, rows=rows, limit=limit, out_rejected=out_rejected
    )
    type_limit = rows[0]["type_limit"]
    if allowed and ticket_type is not None and type_limit is not None:
        # The type's own limit, after the event's: the orders over it give the event's back.
        fit = await _take_allowances(
            conn,
            event_id=event_id,
            rows=allowed,
            limit=type_limit,
            out_rejected=out_rejected,
            ticket_type=ticket_type,
        )
        over = [r for r in allowed if r["id"] in out_rejected]
        if over:
            await _give_back(conn, event_id=event_id, ticket_type=None, type_limit=None, rows=over)
        allowed = fit
    if not allowed:
        return reserved
    serve, wait, sold_out = await _first_come_first_served(
        conn, event_id=event_id, ticket_type=ticket_type, rows=allowed, ahead=ahead
    )
    claimed = await tickets.claim_up_to(
        conn, event_id=event_id, quantity=sum(r["quantity"] for r in serve), section=ticket_type
    )
    holds: list[tuple[asyncpg.Record, uuid.UUID, list[asyncpg.Record]]] = []
    short = False
    for r in serve:
        short = short or len(claimed) < r["quantity"]
        if short:  # tickets taken meanwhile by a hold: this and later orders count again
            wait.append(r)
        else:
            mine, claimed = claimed[: r["quantity"]], claimed[r["quantity"] :]
            holds.append((r, uuid.uuid4(), mine))
    for r in sold_out:
        out_rejected[r["id"]] = "sold_out"
    for r in wait:
        reserved[r["id"]] = Waiting()
    back = sorted([*sold_out, *wait], key=lambda r: r["customer_id"])
    if back:
        await _give_back(conn, event_id=event_id, ticket_type=ticket_type, type_limit=type_limit, rows=back)
    if holds:
        await _hold_tickets(conn, event_id=event_id, holds=holds, hold_s=hold_s, out=reserved)
    return reserved


async def _take_allowances(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    rows: list[asyncpg.Record],
    limit: int,
    out_rejected: dict[uuid.UUID, str],
    ticket_type: str | None = None,
) -> list[asyncpg.Record]:
    """Count the orders against their customers' allowance (the event's, or with
    `ticket_type` the type's own); a customer appears once per round so that one upsert
    never touches a row twice. Returns the orders that fit; the others are rejected
    `limit_reached`."""
    allowed: list[asyncpg.Record] = []
    pending = rows
    while pending:
        seen: set[uuid.UUID] = set()
        this_round: list[asyncpg.Record] = []
        later: list[asyncpg.Record] = []
        for r in pending:
            (later if r["customer_id"] in seen else this_round).append(r)
            seen.add(r["customer_id"])
        pending = later
        by_customer = sorted(this_round, key=lambda r: r["customer_id"])
        customers, quantities = [r["customer_id"] for r in by_customer], [r["quantity"] for r in by_customer]
        if ticket_type is None:
            taken = await conn.fetch(Q.take_order_allowances, customers, event_id, quantities, limit)
        else:
            taken = await conn.fetch(
                Q.take_order_type_allowances, customers, event_id, ticket_type, quantities, limit
            )
        fit = {r["customer_id"] for r in taken}
        for r in this_round:
            if r["customer_id"] in fit:
                allowed.append(r)
            else:
                out_rejected[r["id"]] = "limit_reached"
    return allowed


async def _give_back(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    ticket_type: str | None,
    type_limit: int | None,
    rows: list[asyncpg.Record],
) -> None:
    """The allowances of orders that got nothing, summed per customer (in customer order)."""
    per_customer: dict[uuid.UUID, int] = defaultdict(int)
    for r in rows:
        per_customer[r["customer_id"]] += r["quantity"]
    customers = sorted(per_customer)
    quantities = [per_customer[c] for c in customers]
    await conn.execute(Q.release_order_allowances, customers, event_id, quantities)
    if ticket_type is not None and type_limit is not None:
        await conn.execute(Q.release_order_type_allowances, customers, event_id, ticket_type, quantities)


def _order_key(r: asyncpg.Record) -> tuple[float, dt.datetime]:
    return (r["seq"] if r["seq"] is not None else float("inf"), r["accepted_at"])


async def _first_come_first_served(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    ticket_type: str | None,
    rows: list[asyncpg.Record],
    ahead: Sequence[tuple[int, int]],
) -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
    """Split the orders (in seq order) into those served now, those that wait for earlier
    orders, and those rejected `sold_out`. An order is served only from the tickets that
    every earlier unreserved order leaves; it is sold out only when no earlier order is
    still waiting, and then every later order of the event (and of its ticket type, when
    the orders name one) is sold out too."""
    after_seq: int | None = await conn.fetchval(Q.get_sold_out_seq, event_id, ticket_type or "")
    left = await tickets.count_available(conn, event_id=event_id, section=ticket_type)
    seqs = [seq for seq, _ in ahead]
    need_ahead = [0]
    for _, q in ahead:
        need_ahead.append(need_ahead[-1] + q)
    serve: list[asyncpg.Record] = []
    wait: list[asyncpg.Record] = []
    sold_out: list[asyncpg.Record] = []
    waiting = 0  # tickets of earlier orders of this batch that wait
    for r in sorted(rows, key=_order_key):
        seq = r["seq"]
        if after_seq is not None and seq is not None and seq > after_seq:
            sold_out.append(r)
            continue
        before = waiting + (need_ahead[bisect.bisect_left(seqs, seq)] if seq is not None else 0)
        if left - before >= r["quantity"]:
            serve.append(r)
            left -= r["quantity"]
        elif before == 0:
            sold_out.append(r)
            if seq is not None:
                after_seq = seq if after_seq is None else min(after_seq, seq)
                await conn.execute(Q.set_sold_out_seq, event_id, seq, ticket_type or "")
        else:
            wait.append(r)
            waiting += r["quantity"]
    return serve, wait, sold_out


async def _hold_tickets(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    holds: list[tuple[asyncpg.Record, uuid.UUID, list[asyncpg.Record]]],
    hold_s: int,
    out: dict[uuid.UUID, Reservation],
) -> None:
    await conn.execute(
        Q.insert_order_holds,
        event_id,
        [h for _, h, _ in holds],
        [r["customer_id"] for r, _, _ in holds],
        [r["quantity"] for r, _, _ in holds],
        [sum(t["price_cents"] for t in ts) for _, _, ts in holds],
        hold_s,
    )
    ticket_ids = [t["id"] for _, _, ts in holds for t in ts]
    result = await conn.execute(
        Q.hold_order_tickets,
        ticket_ids,
        [h for _, h, ts in holds for _ in ts],
        [r["customer_id"] for r, _, ts in holds for _ in ts],
    )
    if result != f"UPDATE {len(ticket_ids)}":  # locked rows cannot change; a broken invariant
        raise RuntimeError(f"held {result} of {len(ticket_ids)} claimed tickets")
    await conn.execute(Q.set_order_holds, [r["id"] for r, _, _ in holds], [h for _, h, _ in holds])
    for r, h, ts in holds:
        out[r["id"]] = Reserved(hold_id=h, total_cents=sum(t["price_cents"] for t in ts))


# --- step 3: settle ----------------------------------------------------------------------


async def settle_orders(
    conn: Connection,
    *,
    settlements: Sequence[Settlement],
    lock_timeout_ms: int,
    statement_timeout_ms: int | None = None,
) -> tuple[dict[uuid.UUID, Settled], set[uuid.UUID]]:
    """Confirm (book + purchases) or reject (release) reserved orders in one transaction.

    An order whose hold ended before its settlement (the sweeper expired it) is rejected
    `payment_unavailable` and reported with `hold_lost` so its charge can be refunded.
    """
    unique = {s.order_id: s for s in settlements}
    ids = sorted(unique)
    confirm: list[tuple[Settlement, asyncpg.Record]] = []
    release: list[tuple[Settlement, asyncpg.Record]] = []
    lost: set[uuid.UUID] = set()
    rejected: dict[uuid.UUID, str] = {}
    already: list[uuid.UUID] = []
    changed: set[uuid.UUID] = set()
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, lock_timeout_ms, statement_ms=statement_timeout_ms)
        rows = {r["id"]: r for r in await conn.fetch(Q.lock_order_holds, ids)}
        for order_id in ids:
            s, row = unique[order_id], rows.get(order_id)
            if row is None or row["status"] != "queued":
                already.append(order_id)
            elif row["hold_id"] != s.hold_id or row["hold_status"] != "active":
                lost.add(order_id)
                rejected[order_id] = "payment_unavailable"
            elif s.payment_id is not None:
                confirm.append((s, row))
            else:
                release.append((s, row))
                rejected[order_id] = s.reason or "payment_declined"
        if confirm:
            await _book(conn, confirm)
            changed.update(r["event_id"] for _, r in confirm)
        if release:
            await _release(conn, release)
            changed.update(r["event_id"] for _, r in release)
        if rejected:
            await conn.execute(Q.reject_orders, list(rejected), list(rejected.values()))
        views = await load_orders(conn, order_ids=ids)
    out: dict[uuid.UUID, Settled] = {}
    for order_id in ids:
        v = views.get(order_id)
        if v is None:
            continue  # an order without a row cannot have a hold; nothing to settle
        now = order_id not in already
        decided = Decided(order=v.order, customer_id=v.customer_id, customer_name=v.customer_name, now=now)
        out[order_id] = Settled(decided=decided, hold_lost=order_id in lost)
    return out, changed


async def _book(conn: Connection, confirm: list[tuple[Settlement, asyncpg.Record]]) -> None:
    holds = [s.hold_id for s, _ in confirm]
    booked = await conn.fetch(Q.book_order_holds, holds)
    per_hold: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
    for t in booked:
        per_hold[t["hold_id"]].append(t)
    event_ids, customer_ids, ticket_ids, hold_ids, order_ids, prices = [], [], [], [], [], []
    for s, row in confirm:
        got = per_hold.get(s.hold_id, [])
        if len(got) != row["quantity"]:  # an active, locked hold keeps its tickets
            raise RuntimeError(f"hold {s.hold_id} had {len(got)} of {row['quantity']} tickets")
        for t in got:
            event_ids.append(row["event_id"])
            customer_ids.append(row["customer_id"])
            ticket_ids.append(t["id"])
            hold_ids.append(s.hold_id)
            order_ids.append(s.order_id)
            prices.append(t["price_cents"])
    await conn.execute(
        Q.insert_order_purchases, event_ids, customer_ids, ticket_ids, hold_ids, order_ids, prices
    )
    await conn.execute(
        Q.end_order_holds, holds, ["confirmed"] * len(holds), [s.payment_id for s, _ in confirm]
    )
    await conn.execute(
        Q.confirm_order_rows, [s.order_id for s, _ in confirm], [s.payment_id for s, _ in confirm]
    )


async def _release(conn: Connection, release: list[tuple[Settlement, asyncpg.Record]]) -> None:
    holds = [s.hold_id for s, _ in release]
    typed = await conn.fetch(Q.order_hold_type_counts, holds)  # read before the tickets go back
    await conn.execute(Q.release_order_holds, holds)
    await conn.execute(Q.end_order_holds, holds, ["cancelled"] * len(holds), [None] * len(holds))
    give_back: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for _, row in release:
        give_back[(row["event_id"], row["customer_id"])] += row["quantity"]
    per_event: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = defaultdict(list)
    for (event_id, customer_id), qty in sorted(give_back.items()):
        per_event[event_id].append((customer_id, qty))
    for event_id, items in per_event.items():
        await conn.execute(Q.release_order_allowances, [c for c, _ in items], event_id, [q for _, q in items])
    if typed:  # after the event allowance rows, as everywhere
        await conn.execute(
            Q.release_type_counts,
            [r["customer_id"] for r in typed],
            [r["event_id"] for r in typed],
            [r["section"] for r in typed],
            [r["n"] for r in typed],
        )


async def reject_stranded_order(
    conn: Connection, *, order_id: uuid.UUID, reason: str, lock_timeout_ms: int
) -> Decided | None:
    """Reject a written, undecided order that can no longer be charged (its Redis record
    with the payment method is gone), giving back its tickets if it holds some."""
    async with conn.transaction():
        await tickets.set_lock_timeout(conn, lock_timeout_ms)
        rows = await conn.fetch(Q.lock_orders, [order_id])
        if not rows:
            return None
        row = rows[0]
        now = row["status"] == "queued"
        if now:
            if row["hold_id"] is not None and row["hold_status"] == "active":
                await _release(conn, [(Settlement(order_id, row["hold_id"], None, reason), row)])
            await conn.execute(Q.reject_orders, [order_id], [reason])
        views = await load_orders(conn, order_ids=[order_id])
    v = views[order_id]
    return Decided(order=v.order, customer_id=v.customer_id, customer_name=v.customer_name, now=now)

"""Every Redis key and channel name of the domain. One event's keys share the hash tag
`{event_id}` so that a Redis Cluster keeps them in one slot."""

from __future__ import annotations

from uuid import UUID

# Jobs of reservations, by the names the workers register them under (jobs/tasks/*); an
# order decision (jobs/orders_worker.py) is `orders.decide` in metrics and the job monitor.
DECIDE_ORDER_JOB = "orders.decide"
EXPIRE_HOLD_JOB = "holds.expire"
PUSH_STOCK_JOB = "live.push_stock"


def expire_hold_job_id(hold_id: UUID | str, *, extended: bool = False) -> str:
    """arq job id of a hold's expiry: one per hold, and a second one deferred to the new
    `expires_at` when the hold is extended (the first then finds the hold not yet due)."""
    return f"hold-expire:{hold_id}:extended" if extended else f"hold-expire:{hold_id}"


def push_stock_job_id(event_id: UUID | str) -> str:
    """arq job id of an event's live stock push: a burst of changes enqueues it once."""
    return f"live-stock:{event_id}"


def live_push_gate(event_id: UUID | str) -> str:
    """Set for most of the live push's delay by the change that enqueued it
    (`inventory/lua/stock_changed.lua`): the burst's other changes enqueue nothing."""
    return f"cp:livegate:{{{event_id}}}"


def live_push_cost(event_id: UUID | str) -> str:
    """Milliseconds the seat delta of the event's last live push took (live/service.py
    `push_stock`): a costly map is pushed less often (`inventory/lua/stock_changed.lua`)."""
    return f"cp:livecost:{{{event_id}}}"


def stock(event_id: UUID | str) -> str:
    """The event's stock counters at one stock version (msgpack: [version, counters];
    `inventory/stock.py`, `get_stock`). A name of its own since ADR 0022: a release before
    it kept the bare counters for 1 s under `cp:stock:`, and while both run neither reads
    the other's."""
    return f"cp:stockv:{{{event_id}}}"


def seat_version(event_id: UUID | str) -> str:
    """The event's stock version (an integer): moved on by every committed change of its
    ticket states (`inventory/stock.py`, `stock_changed`); names its seat-map snapshot."""
    return f"cp:seatver:{{{event_id}}}"


def seat_map(event_id: UUID | str) -> str:
    """The event's newest seat-map snapshot (msgpack: version, seats, statuses), shared by
    every API instance so one version has one body and one ETag."""
    return f"cp:seatmap:{{{event_id}}}"


def seat_map_pushed(event_id: UUID | str) -> str:
    """What the last `seats` delta on the event's live channel led to (its version and a
    status letter per seat in seat id order): the base of the next delta. A name of its
    own since ADR 0022 (a release before it kept the whole snapshot under
    `cp:seatmap:pushed:`): while both run, neither decodes the other's."""
    return f"cp:seatmap:pushedv:{{{event_id}}}"


def hold_idempotency(customer_id: UUID | str, digest: str) -> str:
    """A customer's hold request by Idempotency-Key (a digest of the key)."""
    return f"cp:idem:hold:{customer_id}:{digest}"


def stock_last(event_id: UUID | str) -> str:
    """The last stock counters read from PostgreSQL, kept longer: what a read answers while
    PostgreSQL is busy (a lock, a stall) instead of 503."""
    return f"cp:stock-last:{{{event_id}}}"


def event_live_channel(event_id: UUID | str) -> str:
    """Channel of `/api/events/{id}/live`: stock counters and purchases."""
    return f"event.{event_id}.live"


def customer_channel(customer_id: UUID | str) -> str:
    """Channel of `/api/ws`: a customer's own orders and holds."""
    return f"customer.{customer_id}"


# Orders (reservations/orders/). The accept gate runs as one Lua script over
# these keys and arq's queue, so the order keys live beside arq on one Redis primary.


def event_meta(event_id: UUID | str) -> str:
    """What the order gate knows of an event (hash, filled from PostgreSQL)."""
    return f"cp:event:{{{event_id}}}"


def sold_out(event_id: UUID | str) -> str:
    """Present while an event has no available ticket (set from fresh counts)."""
    return f"cp:soldout:{{{event_id}}}"


def available(event_id: UUID | str) -> str:
    """The event's AVAILABLE ticket count as last read from PostgreSQL (a plain integer,
    written with the sold-out flag). Missing: the order gate does not bound by stock."""
    return f"cp:available:{{{event_id}}}"


def available_type(event_id: UUID | str, ticket_type: str) -> str:
    """One ticket type's AVAILABLE count as last read from PostgreSQL (docs/ticket-types.md);
    missing: the order gate bounds orders of the type by the event's count only."""
    return f"cp:available:{{{event_id}}}:t:{ticket_type}"


def orders_unreserved_types(event_id: UUID | str) -> str:
    """Hash beside `orders_unreserved` for orders that name a ticket type: `o:<order id>` ->
    the type, and `<type>` -> the tickets of that type not reserved yet."""
    return f"cp:unreserved:types:{{{event_id}}}"


def orders_unreserved(event_id: UUID | str) -> str:
    """Hash of the event's accepted orders whose tickets are not reserved yet: order id ->
    quantity, plus `total`, their sum (what the order gate bounds by `available`)."""
    return f"cp:unreserved:{{{event_id}}}"


def orders_unreserved_seq(event_id: UUID | str) -> str:
    """Sorted set of the same orders as `orders_unreserved`, scored by their `order_seq`:
    which accepted orders are ahead of an order and not reserved yet (first come, first served)."""
    return f"cp:unreserved:seq:{{{event_id}}}"


def order_seq(event_id: UUID | str) -> str:
    """Counter: the last sequence number the order gate gave an order of the event."""
    return f"cp:orderseq:{{{event_id}}}"


def order_counts(event_id: UUID | str) -> str:
    """Hash customer id -> tickets in accepted, not rejected orders of the event."""
    return f"cp:ordered:{{{event_id}}}"


def order(order_id: UUID | str) -> str:
    """An accepted order until PostgreSQL has decided it (hash)."""
    return f"cp:order:{order_id}"


ORDER_KEY_SHARDS = 1 << 16


def order_idempotency(day: int, shard: int) -> str:
    """One of the hashes holding the order Idempotency-Keys first used on a UTC day
    (days since the epoch): field = a digest of (customer, key), value = the answer, kept
    compact (reservations/orders/service.py, `idempotency_slot`)."""
    return f"cp:idem:order:{day}:{shard:04x}"


def orders_pending() -> str:
    """Sorted set of accepted, undecided order ids by acceptance time (ms)."""
    return "cp:orders:pending"


def orders_waiting_payment() -> str:
    """Sorted set of reserved orders waiting for the payment provider, by their deadline (ms)."""
    return "cp:orders:waiting-payment"


def payments_breakers() -> str:
    """Hash: process name -> its payment circuit breaker's status (JSON), for the job monitor."""
    return "cp:payments:breakers"


def orders_recent() -> str:
    """Capped list of the latest order decisions of the orders workers (the job monitor)."""
    return "cp:orders:recent"


def orders_failures() -> str:
    """Capped list of the latest orders the orders workers gave up on (the job monitor)."""
    return "cp:orders:failures"


def order_requeued(order_id: UUID | str) -> str:
    """Set while reconcile's re-added stream entry of an order is young (no second copy)."""
    return f"cp:order:requeued:{order_id}"


def orders_rate() -> str:
    """Token bucket that paces order decisions across every orders worker."""
    return "cp:orders:rate"


def confirm_idempotency(hold_id: UUID | str, key: str) -> str:
    return f"cp:idem:confirm:{hold_id}:{key}"


def hold_payment_attempt(hold_id: UUID | str) -> str:
    """How many charges of a hold were declined: the provider key of the next one."""
    return f"cp:holdpay:{{{hold_id}}}"

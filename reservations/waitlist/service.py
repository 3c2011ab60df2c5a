"""The waitlist: joining, reading and leaving an entry, and the organizer's view and switch.

An entry is one buyer (a customer, or an address given by an anonymous visitor) waiting
for `quantity` tickets of an event (or of one type) that is sold out. Returned tickets are
offered to the entries in the order they joined (offers.py). See docs/waitlist.md.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from uuid import UUID

import asyncpg
from arq.connections import ArqRedis

from core.auth import Principal
from core.db import Connection, queries_beside
from core.errors import BadRequest, Forbidden
from reservations.customers.schemas import clean_email
from reservations.errors import EventNotFound, NotOnSale
from reservations.waitlist import keys, offers
from reservations.waitlist.admission import checkout_url, encode_entry, encode_offer, entry_of_token
from reservations.waitlist.errors import EntryNotFound, NotSoldOut, WaitlistClosed
from reservations.waitlist.schemas import (
    Waitlist,
    WaitlistEntry,
    WaitlistJoin,
    WaitlistRow,
    WaitlistState,
)

Q = queries_beside(__file__)

LIST_LIMIT = 1000


def render_entry(row: Any, *, entry_token: str | None = None, reveal_offer: bool = False) -> WaitlistEntry:
    """An entry; `reveal_offer`: the caller is its holder, who gets the offer's admission."""
    now = dt.datetime.now(dt.UTC)
    offered = row["status"] == "offered" and row["offer_expires_at"] is not None
    left = (row["offer_expires_at"] - now).total_seconds() if offered else 0.0
    offer_token = None
    if reveal_offer and offered and left > 0:
        offer_token = encode_offer(
            entry_id=row["id"], event_id=row["event_id"], expires_at=row["offer_expires_at"]
        )
    return WaitlistEntry(
        id=row["id"],
        event_id=row["event_id"],
        status=row["status"],
        position=row["position"],
        email=row["email"],
        ticket_type=row["ticket_type"],
        quantity=row["quantity"],
        offered_quantity=row["offered_quantity"],
        offered_at=row["offered_at"],
        offer_expires_at=row["offer_expires_at"],
        seconds_left=max(0, math.ceil(left)),
        created_at=row["created_at"],
        entry_token=entry_token,
        offer_token=offer_token,
        checkout_url=checkout_url(event_id=row["event_id"], offer_token=offer_token) if offer_token else None,
    )


async def _entry_row(conn: Connection, entry_id: UUID) -> Any:
    row = await conn.fetchrow(Q.entry, entry_id)
    if row is None:
        raise EntryNotFound()
    return row


async def join_waitlist(
    conn: Connection,
    redis: ArqRedis,
    *,
    event_id: UUID,
    principal: Principal,
    request: WaitlistJoin,
    visitor_id: UUID | None = None,
) -> tuple[WaitlistEntry, bool]:
    """Join the event's waitlist (or its type's); (the entry, whether it is new). Joining
    again (same customer or address while the entry is open) answers the same entry, without
    its token unless the caller is its customer. Raises EventNotFound, NotOnSale (closed or
    before sale), WaitlistClosed (the organizer turned it off), NotSoldOut (tickets of the
    type are on sale), BadRequest (`email` missing or malformed, `ticket_type` unknown,
    `quantity` above the event's limit)."""
    customer_id = principal.customer_id
    terms = await conn.fetchrow(Q.event_terms, event_id)
    if terms is None:
        raise EventNotFound()
    if request.email is not None:
        email = clean_email(request.email)
    elif customer_id is not None:
        email = await conn.fetchval(Q.customer_email, customer_id)
    else:
        raise BadRequest("An email address is needed to be told when a ticket comes back.", field="email")
    if request.quantity > terms["max_per_customer"]:
        raise BadRequest(
            f"At most {terms['max_per_customer']} ticket(s) per customer for this event.", field="quantity"
        )
    if request.ticket_type is not None and not await conn.fetchval(
        Q.type_exists, event_id, request.ticket_type
    ):
        raise BadRequest("This event has no ticket type of this name.", field="ticket_type")
    if terms["closed"] or terms["before_sale"]:
        raise NotOnSale("This event is not on sale now: its waitlist opens when it sells out.")
    if not terms["enabled"]:
        raise WaitlistClosed()
    if await conn.fetchval(Q.on_sale_count, event_id, request.ticket_type) > 0:
        raise NotSoldOut()
    try:
        entry_id = await conn.fetchval(
            Q.insert_entry, event_id, customer_id, visitor_id, email, request.ticket_type, request.quantity
        )
    except asyncpg.ForeignKeyViolationError:  # the event went between the read and the insert
        raise EventNotFound() from None
    created = entry_id is not None
    if not created:
        entry_id = await conn.fetchval(Q.open_entry_of, event_id, customer_id, email)
        if entry_id is None:  # the open entry ended in between: join anew once
            return await join_waitlist(
                conn, redis, event_id=event_id, principal=principal, request=request, visitor_id=visitor_id
            )
    await redis.set(keys.waiting(event_id), b"1", ex=keys.WAITING_HINT_TTL_S)
    row = await _entry_row(conn, entry_id)
    owner = created or (customer_id is not None and row["customer_id"] == customer_id)
    token = encode_entry(entry_id=entry_id, event_id=event_id) if owner else None
    return render_entry(row, entry_token=token, reveal_offer=owner), created


async def _own_entry_id(
    conn: Connection, *, event_id: UUID, principal: Principal, entry_token: str | None
) -> UUID:
    if entry_token is not None:
        entry_id = entry_of_token(entry_token, event_id=event_id)
        row = await conn.fetchrow(Q.entry, entry_id)
        if row is None or row["event_id"] != event_id:
            raise EntryNotFound()
        return entry_id
    if principal.customer_id is None:
        raise Forbidden("Sign in, or send the Waitlist-Token the join gave.")
    latest: UUID | None = await conn.fetchval(Q.latest_entry_of_customer, event_id, principal.customer_id)
    if latest is None:
        raise EntryNotFound()
    return latest


async def get_entry(
    conn: Connection, *, event_id: UUID, principal: Principal, entry_token: str | None
) -> WaitlistEntry:
    """The caller's entry (their newest for the event), by customer token or entry token."""
    entry_id = await _own_entry_id(conn, event_id=event_id, principal=principal, entry_token=entry_token)
    return render_entry(await _entry_row(conn, entry_id), reveal_offer=True)


async def leave_waitlist(
    conn: Connection, redis: ArqRedis, *, event_id: UUID, principal: Principal, entry_token: str | None
) -> None:
    """Leave: an open entry ends `left`; an offer's tickets pass to the next in line.
    Leaving an ended entry is a no-op."""
    entry_id = await _own_entry_id(conn, event_id=event_id, principal=principal, entry_token=entry_token)
    async with conn.transaction():
        await conn.execute(Q.lock_event_waitlist, event_id)
        left = await conn.fetchrow(Q.leave_entry, entry_id)
        if left is not None:
            await conn.execute(Q.unpin_offers, [entry_id])
    if left is not None:
        await offers.request_offers(redis, event_id=event_id)


async def list_waitlist(conn: Connection, *, event_id: UUID) -> Waitlist:
    """The organizer's view: counts, and the entries (open ones in line order first)."""
    if not await conn.fetchval(Q.event_exists, event_id):
        raise EventNotFound()
    counts = await conn.fetchrow(Q.waitlist_counts, event_id)
    rows = await conn.fetch(Q.list_entries, event_id, LIST_LIMIT)
    return Waitlist(
        event_id=event_id,
        enabled=counts["enabled"],
        waiting=counts["waiting"],
        offered=counts["offered"],
        kept=counts["kept"],
        entries=[
            WaitlistRow(
                id=r["id"],
                position=r["position"],
                email=r["email"],
                customer_id=r["customer_id"],
                ticket_type=r["ticket_type"],
                quantity=r["quantity"],
                status=r["status"],
                offered_quantity=r["offered_quantity"],
                offered_at=r["offered_at"],
                offer_expires_at=r["offer_expires_at"],
                created_at=r["created_at"],
            )
            for r in rows
        ],
    )


async def set_waitlist(conn: Connection, redis: ArqRedis, *, event_id: UUID, enabled: bool) -> WaitlistState:
    """Turn the event's waitlist on or off. Off: no joins and no new offers; kept tickets
    no offer holds go on sale to everyone; offers already made stay valid until they end."""
    if not await conn.fetchval(Q.event_exists, event_id):
        raise EventNotFound()
    row = await conn.fetchrow(Q.set_enabled, event_id, enabled)
    await offers.request_offers(redis, event_id=event_id, force=True)
    return WaitlistState(event_id=row["event_id"], enabled=row["enabled"])

"""E-tickets: every purchase is one, with a signed code (codes.py) and a QR code."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from core.auth import Principal
from core.db import Connection, queries_beside
from core.errors import BadRequest
from reservations.errors import EventNotFound
from reservations.etickets.codes import PREFIX, TicketCode, read_code, seat_label, sign_code
from reservations.etickets.errors import TicketNotFound
from reservations.etickets.schemas import ETicket, EventPurchase, EventPurchases, TicketState

Q = queries_beside(__file__)
MAX_LISTED = 200


def _state(row: Mapping[str, Any]) -> TicketState:
    if row["refunded_at"] is not None:
        return "refunded"
    if row["refund_claimed_at"] is not None:
        return "refund_pending"
    if row["checked_in_at"] is not None:
        return "checked_in"
    return "valid"


def eticket_from_row(row: Mapping[str, Any], *, now: dt.datetime | None = None) -> ETicket:
    """The e-ticket of a row of `eticket_rows`; its cancel policy when the row carries the
    event's `buyer_cancel_until` and `cancel_fee_cents` (the rules of refunds._terms)."""
    until = row.get("buyer_cancel_until")
    fee = min(row.get("cancel_fee_cents") or 0, row["price_cents"])
    state = _state(row)
    cancellable = (
        until is not None
        and state == "valid"
        and row["cancelled_at"] is None
        and (now or dt.datetime.now(dt.UTC)) <= until
    )
    seat = seat_label(row["section"], row["row_label"], row["seat_number"])
    code = sign_code(
        TicketCode(purchase_id=row["id"], event_id=row["event_id"], holder=row["holder"], seat=seat)
    )
    return ETicket(
        id=row["id"],
        event_id=row["event_id"],
        event_name=row["event_name"],
        venue=row["venue"],
        starts_at=row["starts_at"],
        ticket_id=row["ticket_id"],
        section=row["section"],
        row=row["row_label"],
        number=row["seat_number"],
        seat=seat,
        holder=row["holder"],
        price_cents=row["price_cents"],
        half_price=row["half_price"],
        purchased_at=row["created_at"],
        state=state,
        checked_in_at=row["checked_in_at"],
        checked_in_door=row["checked_in_door"],
        refunded_at=row["refunded_at"],
        code=code,
        cancel_until=until,
        cancel_fee_cents=fee,
        cancel_refund_cents=row["price_cents"] - fee,
        cancellable=cancellable,
        qr_png=f"/api/tickets/{row['id']}/qr.png",
        page=f"/api/tickets/{row['id']}/ticket.html",
    )


async def get_eticket(conn: Connection, *, ticket_id: uuid.UUID, principal: Principal) -> ETicket:
    """The e-ticket, to its holder or the organizer (anyone else: 404, nothing leaks)."""
    row = await conn.fetchrow(Q.get_eticket, ticket_id)
    if row is None or not (principal.is_admin or principal.customer_id == row["customer_id"]):
        raise TicketNotFound()
    return eticket_from_row(row)


async def list_etickets(conn: Connection, *, principal: Principal) -> list[ETicket]:
    """The caller's e-tickets, newest first."""
    customer_id = principal.require_customer()
    return [eticket_from_row(r) for r in await conn.fetch(Q.list_etickets, customer_id, MAX_LISTED)]


def _search(q: str | None) -> tuple[uuid.UUID | None, str | None]:
    """(purchase id, ILIKE pattern) for a search: a ticket code or an e-ticket id finds that
    purchase; anything else is a part of the buyer's email or name."""
    text = (q or "").strip()
    if not text:
        return None, None
    if text.startswith(PREFIX + "."):
        ticket = read_code(text)
        if ticket is None:
            raise BadRequest("Not a genuine ticket code.", field="q")
        return ticket.purchase_id, None
    try:
        return uuid.UUID(text), None
    except ValueError:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return None, f"%{escaped}%"


async def list_event_purchases(
    conn: Connection, *, event_id: uuid.UUID, q: str | None, page: int, limit: int
) -> EventPurchases:
    """An event's purchases, newest first, one page at a time (organizer)."""
    if await conn.fetchrow(Q.event_exists, event_id) is None:
        raise EventNotFound()
    purchase_id, pattern = _search(q)
    rows = await conn.fetch(Q.list_event_purchases, event_id, purchase_id, pattern, limit, (page - 1) * limit)
    total = await conn.fetchval(Q.count_event_purchases, event_id, purchase_id, pattern)
    items = [
        EventPurchase(
            id=r["id"],
            buyer_name=r["holder"],
            buyer_email=r["email"],
            seat=seat_label(r["section"], r["row_label"], r["seat_number"]),
            price_cents=r["price_cents"],
            purchased_at=r["created_at"],
            state=_state(r),
            checked_in_at=r["checked_in_at"],
            refunded_at=r["refunded_at"],
            refund_cents=r["refund_cents"],
            refund_reason=r["refund_reason"],
        )
        for r in rows
    ]
    return EventPurchases(items=items, total=total, page=page, limit=limit)

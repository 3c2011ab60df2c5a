"""E-tickets: every purchase is one, with a signed code (codes.py) and a QR code."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from core.auth import Principal
from core.db import Connection, queries_beside
from reservations.etickets.codes import TicketCode, seat_label, sign_code
from reservations.etickets.errors import TicketNotFound
from reservations.etickets.schemas import ETicket, TicketState

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


def eticket_from_row(row: Mapping[str, Any]) -> ETicket:
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
        state=_state(row),
        checked_in_at=row["checked_in_at"],
        checked_in_door=row["checked_in_door"],
        refunded_at=row["refunded_at"],
        code=code,
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

"""Check-in: one scan, one indexed UPDATE; door-staff tokens and the offline door kit."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import uuid

from core import auth
from core.config import get_settings
from core.db import Connection, queries_beside
from reservations.checkin.schemas import Checkin, DoorKit, DoorToken, Revoked, ScanResult
from reservations.errors import EventNotFound
from reservations.etickets.codes import event_key, read_code

Q = queries_beside(__file__)
ALGORITHM = "HMAC-SHA256-128"


@dataclasses.dataclass
class Guards:
    """The race guard of a scan, on in production; only tests switch it off
    (`without_guard` in tests/concurrency/conftest.py)."""

    check_in_once: bool = True  # check_in: AND checked_in_at IS NULL


GUARDS = Guards()
_CHECK_IN_AGAIN = Q.check_in.replace(" AND checked_in_at IS NULL", "")
assert Q.check_in != _CHECK_IN_AGAIN


async def check_in(conn: Connection, *, event_id: uuid.UUID, code: str, door: str) -> Checkin:
    """Admit the holder of `code` at `door`, once. Every other answer says why not."""
    ticket = read_code(code)
    if ticket is None:
        return Checkin(result="forged", admitted=False)

    def answer(result: ScanResult, at: dt.datetime | None = None, where: str | None = None) -> Checkin:
        assert ticket is not None
        return Checkin(
            result=result,
            admitted=result == "admitted",
            ticket_id=ticket.purchase_id,
            event_id=ticket.event_id,
            holder=ticket.holder,
            seat=ticket.seat,
            checked_in_at=at,
            door=where,
        )

    if ticket.event_id != event_id:
        return answer("wrong_event")
    statement = Q.check_in if GUARDS.check_in_once else _CHECK_IN_AGAIN
    row = await conn.fetchrow(statement, ticket.purchase_id, event_id, door)
    if row is not None:
        return answer("admitted", row["checked_in_at"], row["checked_in_door"])
    state = await conn.fetchrow(Q.scan_state, ticket.purchase_id)
    if state is None:  # signed by us, but no such sale: treat as forged
        return Checkin(result="forged", admitted=False)
    if state["refunded_at"] is not None or state["refund_claimed_at"] is not None:
        return answer("refunded")
    return answer("already_checked_in", state["checked_in_at"], state["checked_in_door"])


async def mint_door_token(
    conn: Connection, *, event_id: uuid.UUID, door: str, ttl_s: int | None
) -> DoorToken:
    if await conn.fetchrow(Q.event_exists, event_id) is None:
        raise EventNotFound()
    token, exp = auth.issue_door_token(event_id, door=door, ttl_s=ttl_s or get_settings().door_token_ttl_s)
    return DoorToken(
        token=token, event_id=event_id, door=door, expires_at=dt.datetime.fromtimestamp(exp, dt.UTC)
    )


async def door_kit(conn: Connection, *, event_id: uuid.UUID, since: dt.datetime | None) -> DoorKit:
    if await conn.fetchrow(Q.event_exists, event_id) is None:
        raise EventNotFound()
    as_of = dt.datetime.now(dt.UTC)
    rows = await conn.fetch(Q.list_revoked, event_id, since)
    key = base64.urlsafe_b64encode(event_key(event_id)).rstrip(b"=").decode("ascii")
    return DoorKit(
        event_id=event_id,
        algorithm=ALGORITHM,
        key=key,
        as_of=as_of,
        revoked=[Revoked(id=r["id"], at=r["at"]) for r in rows],
    )

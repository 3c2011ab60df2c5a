"""Check-in: one scan, one indexed UPDATE; scans made offline, uploaded later (the earliest
scan of a ticket wins); door-staff tokens and the offline door kit."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import uuid

from core import auth
from core.config import get_settings
from core.db import Connection, queries_beside
from reservations.checkin.schemas import (
    Checkin,
    DoorKit,
    DoorToken,
    OfflineScan,
    OfflineScans,
    Revoked,
    ScanResult,
)
from reservations.errors import EventNotFound
from reservations.etickets.codes import ALGORITHM, TicketCode, event_public_key, read_code

Q = queries_beside(__file__)


@dataclasses.dataclass
class Guards:
    """The race guard of a scan, on in production; only tests switch it off
    (`without_guard` in tests/concurrency/conftest.py)."""

    check_in_once: bool = True  # check_in: AND checked_in_at IS NULL
    earliest_scan_wins: bool = True  # check_in_at: (checked_in_at IS NULL OR checked_in_at > $4)


GUARDS = Guards()
_CHECK_IN_AGAIN = Q.check_in.replace(" AND checked_in_at IS NULL", "")
assert Q.check_in != _CHECK_IN_AGAIN
_CHECK_IN_AT_ANY = Q.check_in_at.replace("(checked_in_at IS NULL OR checked_in_at > $4)", "true")
assert Q.check_in_at != _CHECK_IN_AT_ANY


def _answer(
    ticket: TicketCode, result: ScanResult, at: dt.datetime | None = None, where: str | None = None
) -> Checkin:
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


async def _refusal(conn: Connection, ticket: TicketCode) -> Checkin:
    """Why a scan of a genuine code of this event was not admitted."""
    state = await conn.fetchrow(Q.scan_state, ticket.purchase_id)
    if state is None:  # signed by us, but no such sale: treat as forged
        return Checkin(result="forged", admitted=False)
    if state["refunded_at"] is not None or state["refund_claimed_at"] is not None:
        return _answer(ticket, "refunded")
    return _answer(ticket, "already_checked_in", state["checked_in_at"], state["checked_in_door"])


async def check_in(conn: Connection, *, event_id: uuid.UUID, code: str, door: str) -> Checkin:
    """Admit the holder of `code` at `door`, once. Every other answer says why not."""
    ticket = read_code(code)
    if ticket is None:
        return Checkin(result="forged", admitted=False)
    if ticket.event_id != event_id:
        return _answer(ticket, "wrong_event")
    statement = Q.check_in if GUARDS.check_in_once else _CHECK_IN_AGAIN
    row = await conn.fetchrow(statement, ticket.purchase_id, event_id, door)
    if row is not None:
        return _answer(ticket, "admitted", row["checked_in_at"], row["checked_in_door"])
    return await _refusal(conn, ticket)


async def check_in_offline(
    conn: Connection, *, event_id: uuid.UUID, scans: list[OfflineScan], door: str
) -> OfflineScans:
    """Record scans a door made without network. The earliest scan of a ticket is its
    check-in, whenever it reaches us: it replaces a later scan already recorded, and every
    other scan answers `already_checked_in` with the first one's time and door. Uploading
    the same scan again answers `admitted` again (a retry after a lost answer). A scan time
    in the future (a fast device clock) counts as now."""
    if await conn.fetchrow(Q.event_exists, event_id) is None:
        raise EventNotFound()
    now = dt.datetime.now(dt.UTC)
    statement = Q.check_in_at if GUARDS.earliest_scan_wins else _CHECK_IN_AT_ANY
    # Earliest first, so that within one upload a later scan never displaces an earlier one.
    order = sorted(range(len(scans)), key=lambda i: scans[i].scanned_at)
    results: dict[int, Checkin] = {}
    for i in order:
        scan = scans[i]
        ticket = read_code(scan.code)
        if ticket is None:
            results[i] = Checkin(result="forged", admitted=False)
            continue
        if ticket.event_id != event_id:
            results[i] = _answer(ticket, "wrong_event")
            continue
        at = min(scan.scanned_at, now)
        row = await conn.fetchrow(statement, ticket.purchase_id, event_id, door, at)
        if row is not None:
            results[i] = _answer(ticket, "admitted", row["checked_in_at"], row["checked_in_door"])
            continue
        refusal = await _refusal(conn, ticket)
        if refusal.checked_in_at == at and refusal.door == door:  # this very scan, sent again
            refusal = _answer(ticket, "admitted", at, door)
        results[i] = refusal
    return OfflineScans(results=[results[i] for i in range(len(scans))])


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
    key = base64.urlsafe_b64encode(event_public_key(event_id)).rstrip(b"=").decode("ascii")
    return DoorKit(
        event_id=event_id,
        algorithm=ALGORITHM,
        key=key,
        as_of=as_of,
        revoked=[Revoked(id=r["id"], at=r["at"]) for r in rows],
    )

"""Check-in at the door: scans, door-staff tokens and the door kit."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from core.schemas import Out, Struct

ScanResult = Literal["admitted", "already_checked_in", "refunded", "wrong_event", "forged"]
Door = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class CheckinCreate(Struct, frozen=True, kw_only=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    door: Door | None = None  # taken from a door token when absent


class Checkin(Out, frozen=True, kw_only=True):
    result: ScanResult
    admitted: bool
    ticket_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    holder: str | None = None
    seat: str | None = None
    checked_in_at: dt.datetime | None = None  # now (admitted) or the first check-in
    door: str | None = None  # this door (admitted) or the door of the first check-in


class OfflineScan(Struct, frozen=True, kw_only=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    scanned_at: Annotated[dt.datetime, msgspec.Meta(tz=True)]  # when the door scanned it, offline


class OfflineScansCreate(Struct, frozen=True, kw_only=True):
    """Scans a door made without network, uploaded when it is back online."""

    scans: Annotated[list[OfflineScan], msgspec.Meta(min_length=1, max_length=500)]
    door: Door | None = None  # taken from a door token when absent


class OfflineScans(Out, frozen=True, kw_only=True):
    results: list[Checkin]  # one per scan, in the order sent


class DoorTokenCreate(Struct, frozen=True, kw_only=True):
    door: Door
    ttl_s: Annotated[int, msgspec.Meta(ge=60, le=7 * 24 * 3600)] | None = None


class DoorToken(Out, frozen=True, kw_only=True):
    token: str
    event_id: uuid.UUID
    door: str
    expires_at: dt.datetime


class Revoked(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    at: dt.datetime


class DoorKit(Out, frozen=True, kw_only=True):
    """What a door needs to check codes without network: the event's key and the revoked
    e-tickets. Sync with `since` = the previous `as_of` to get only what changed."""

    event_id: uuid.UUID
    algorithm: str  # "Ed25519"
    key: str  # the event's public key, raw 32 bytes, base64url
    as_of: dt.datetime
    revoked: list[Revoked]

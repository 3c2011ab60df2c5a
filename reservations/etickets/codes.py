"""E-ticket codes: signed, so a door without network can check them.

A code is `CP1.<payload>.<signature>` (base64url). The payload is the e-ticket id (the
purchase id), the event id, the holder's name and the seat label; the signature is
HMAC-SHA256 (truncated to 128 bits) under a key of that event alone, derived from the
server's secret. A door device gets the key of its event (the door kit), never the master
secret: a lost device can at worst forge tickets of one event, and the organizer rotates
by changing `JWT_SECRET` (docs/after-sale.md, "Offline checking").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

import msgspec

from core.config import get_settings

PREFIX = "CP1"
SIGNATURE_BYTES = 16
_SEP = "\x1f"


class TicketCode(msgspec.Struct, frozen=True, kw_only=True):
    purchase_id: uuid.UUID
    event_id: uuid.UUID
    holder: str
    seat: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _master_key() -> bytes:
    return hmac.new(get_settings().jwt_secret.encode(), b"crowdpass e-ticket v1", hashlib.sha256).digest()


def event_key(event_id: uuid.UUID) -> bytes:
    """The key that signs and checks the codes of one event (handed to its doors)."""
    return hmac.new(_master_key(), b"event:" + event_id.bytes, hashlib.sha256).digest()


def _signature(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()[:SIGNATURE_BYTES]


def sign_code(ticket: TicketCode) -> str:
    text = f"{ticket.holder}{_SEP}{ticket.seat}".encode()
    payload = _b64(ticket.purchase_id.bytes + ticket.event_id.bytes + text)
    signed = f"{PREFIX}.{payload}"
    return f"{signed}.{_b64(_signature(event_key(ticket.event_id), signed))}"


def read_code(code: str, *, key: bytes | None = None) -> TicketCode | None:
    """The ticket a genuine code names, or None when it is malformed or forged.

    `key` is one event's key (a door checking offline); without it the server derives the
    key of the event the code names.
    """
    parts = code.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    try:
        raw = _unb64(parts[1])
        signature = _unb64(parts[2])
        if len(raw) < 32:
            return None
        purchase_id, event_id = uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:32])
        holder, _, seat = raw[32:].decode("utf-8").partition(_SEP)
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    expected = _signature(key if key is not None else event_key(event_id), f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(expected, signature):
        return None
    return TicketCode(purchase_id=purchase_id, event_id=event_id, holder=holder, seat=seat)


def seat_label(section: str | None, row: str | None, number: int | None) -> str:
    """'General admission', 'Section A', or 'Section A, row B, seat 3'."""
    if section is None and number is None:
        return "General admission"
    parts = [f"Section {section}"] if section else []
    if row is not None:
        parts.append(f"row {row}")
    if number is not None:
        parts.append(f"seat {number}")
    return ", ".join(parts)

"""E-ticket codes: signed, so a door without network can check them.

A code is `CP2.<payload>.<signature>` (base64url). The payload is the e-ticket id (the
purchase id), the event id, the holder's name and the seat label; the signature is Ed25519
over `CP2.<payload>` under a key pair of that event alone, whose private half is derived
from the server's secret. A door device gets the event's public key (the door kit): it can
check codes without network but never mint one, so a lost device forges nothing. Rotating
`JWT_SECRET` rotates every key pair (docs/after-sale.md, "Offline checking").
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import uuid

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.config import get_settings

PREFIX = "CP2"
ALGORITHM = "Ed25519"
SIGNATURE_BYTES = 64
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


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, event_id: uuid.UUID) -> Ed25519PrivateKey:
    master = hmac.new(secret.encode(), b"crowdpass e-ticket v2", hashlib.sha256).digest()
    seed = hmac.new(master, b"event:" + event_id.bytes, hashlib.sha256).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


@functools.lru_cache(maxsize=1024)
def _verifying_key(secret: str, event_id: uuid.UUID) -> Ed25519PublicKey:
    return _signing_key(secret, event_id).public_key()


def event_signing_key(event_id: uuid.UUID) -> Ed25519PrivateKey:
    """The private key that signs the codes of one event (never leaves the server)."""
    return _signing_key(get_settings().jwt_secret, event_id)


def event_public_key(event_id: uuid.UUID) -> bytes:
    """The raw 32-byte Ed25519 public key that checks the codes of one event (the door kit's)."""
    return event_signing_key(event_id).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_code(ticket: TicketCode) -> str:
    text = f"{ticket.holder}{_SEP}{ticket.seat}".encode()
    payload = _b64(ticket.purchase_id.bytes + ticket.event_id.bytes + text)
    signed = f"{PREFIX}.{payload}"
    return f"{signed}.{_b64(event_signing_key(ticket.event_id).sign(signed.encode('ascii')))}"


def read_code(code: str, *, public_key: bytes | None = None) -> TicketCode | None:
    """The ticket a genuine code names, or None when it is malformed or forged.

    `public_key` is one event's public key (what a door checks with offline); without it the
    server derives the key of the event the code names.
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
    if len(signature) != SIGNATURE_BYTES:
        return None
    try:
        checker = (
            Ed25519PublicKey.from_public_bytes(public_key)
            if public_key is not None
            else _verifying_key(get_settings().jwt_secret, event_id)
        )
        checker.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (InvalidSignature, ValueError):
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

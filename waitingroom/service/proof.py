"""Proof of work at join: a stateless challenge the page solves before joining.

The challenge is `<expiry s>.<difficulty>.<random>.<mac>`, where mac is an HMAC-SHA-256
(truncated to 32 hex digits) of the event, the customer and the first three parts, keyed
from the server secret. A solution is a `nonce` such that SHA-256(challenge + nonce),
over ASCII, starts with at least `difficulty` zero bits. Each challenge is good for one
join (its random part is remembered until it expires).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from uuid import UUID

ALGORITHM = "sha256-leading-zero-bits"
CHALLENGE_TTL_S = 300


class InvalidProof(ValueError):
    pass


def _mac(secret: str, event_id: UUID, customer_id: UUID, payload: str) -> str:
    key = hashlib.sha256(b"crowdpass-pow:" + secret.encode()).digest()
    message = f"{event_id}|{customer_id}|{payload}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def issue(secret: str, *, event_id: UUID, customer_id: UUID, difficulty: int, now_s: int) -> tuple[str, int]:
    """A fresh challenge for this customer and event, and its expiry (epoch seconds)."""
    expires = now_s + CHALLENGE_TTL_S
    payload = f"{expires}.{difficulty}.{secrets.token_hex(8)}"
    return f"{payload}.{_mac(secret, event_id, customer_id, payload)}", expires


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def solves(challenge: str, nonce: str, difficulty: int) -> bool:
    digest = hashlib.sha256((challenge + nonce).encode("ascii", "replace")).digest()
    return leading_zero_bits(digest) >= difficulty


def verify(
    secret: str,
    *,
    event_id: UUID,
    customer_id: UUID,
    challenge: str,
    nonce: str,
    now_s: int,
    difficulty: int,
) -> tuple[str, int]:
    """Check a solution; return the challenge's random part (its one-use id) and expiry."""
    parts = challenge.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        raise InvalidProof("The challenge is malformed.")
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _mac(secret, event_id, customer_id, payload)):
        raise InvalidProof("The challenge was not issued for this customer and event.")
    expires, issued_difficulty = int(parts[0]), int(parts[1])
    if expires <= now_s:
        raise InvalidProof("The challenge has expired.")
    if issued_difficulty < difficulty:
        raise InvalidProof("The difficulty has gone up; fetch a new challenge.")
    if not solves(challenge, nonce, issued_difficulty):
        raise InvalidProof("The nonce does not solve the challenge.")
    return parts[2], expires


def solve(challenge: str, difficulty: int) -> str:
    """Find a nonce by brute force (what the page does; about 2^difficulty hashes)."""
    for i in itertools.count():
        nonce = format(i, "x")
        if solves(challenge, nonce, difficulty):
            return nonce
    raise AssertionError("unreachable")

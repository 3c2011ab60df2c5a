"""The pre-queue lottery: a commitment published before the opening, a seed revealed at it.

Everything here is plain SHA-256 over ASCII text, so anyone can check it with a shell:

- seed: 64 hex digits (32 random bytes), secret until the sale opens;
- commitment = SHA-256(seed), published from the moment the event has a pre-queue;
- draw(customer) = SHA-256(seed + ":" + customer id), the id in its canonical lowercase form;
- queue order at the opening: ascending by the first 13 hex digits of the draw (52 bits,
  exactly representable as a Redis sorted-set score), ties by customer id.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from uuid import UUID

DRAW_HEX_DIGITS = 13  # 52 bits: a double holds every integer below 2^53


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def draw(seed: str, customer_id: UUID | str) -> str:
    return hashlib.sha256(f"{seed}:{customer_id}".encode("ascii")).hexdigest()


def draw_prefix(seed: str, customer_id: UUID | str) -> str:
    return draw(seed, customer_id)[:DRAW_HEX_DIGITS]


def draw_score(seed: str, customer_id: UUID | str) -> int:
    """The sorted-set score of a customer's place in a lottery pre-queue (< 2^52)."""
    return int(draw_prefix(seed, customer_id), 16)


def lottery_order(seed: str, customer_ids: Iterable[UUID | str]) -> list[str]:
    """The pre-queue in the order the lottery puts it, recomputed from the revealed seed."""
    return sorted((str(c) for c in customer_ids), key=lambda c: (draw_prefix(seed, c), c))


def score_hex(score: float) -> str:
    """A stored draw score back to its 13 hex digits."""
    return format(int(score), f"0{DRAW_HEX_DIGITS}x")

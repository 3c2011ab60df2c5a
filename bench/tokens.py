"""Synthetic customers: ids computed from an index, written in bulk, and their JWTs.

The tokens are the HS256 customer tokens `core.auth.issue_customer_token` makes, minted
here with the run's JWT_SECRET in a few microseconds each (a sign-up hashes a password
with Argon2: a million of them would measure Argon2, not the sale)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

import asyncpg
import msgspec

# One id space per population, so runs of different scenarios never collide with the seed.
PREFIX = {"buyer": "b0000000", "client": "c0000000", "visitor": "d0000000"}
CHUNK = 200_000


def customer_id_text(kind: str, index: int) -> str:
    return f"{PREFIX[kind]}-0000-4000-8000-{index:012x}"


def customer_id(kind: str, index: int) -> uuid.UUID:
    return uuid.UUID(customer_id_text(kind, index))


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class Minter:
    """HS256 customer tokens (`sub`, `typ`=customer, `iat`, `exp`), a few microseconds each."""

    def __init__(self, secret: str, *, ttl_s: int = 7 * 24 * 3600) -> None:
        self._key = secret.encode()
        self._header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        self._iat = int(time.time())
        self._exp = self._iat + ttl_s

    def token(self, customer: uuid.UUID | str) -> str:
        claims = {"sub": str(customer), "typ": "customer", "iat": self._iat, "exp": self._exp}
        signing_input = self._header + b"." + _b64(msgspec.json.encode(claims))
        signature = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + _b64(signature)).decode()


async def insert_customers(pg: asyncpg.Connection, *, kind: str, count: int, with_cpf: bool = False) -> None:
    """Write customers 0..count-1 of one population (bulk, chunked, memory-bounded)."""
    prefix = PREFIX[kind]
    # With a CPF: the challenge's clients (its face sees only its own); else product accounts.
    cpf, face = ("lpad(i::text, 11, '0')", "challenge") if with_cpf else ("NULL", "product")
    sql = f"""
        INSERT INTO customers (id, name, email, cpf, face)
        SELECT ('{prefix}-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
               'Bench {kind} ' || i, '{kind}' || i || '@bench.invalid', {cpf}, '{face}'
        FROM generate_series($1::bigint, $2::bigint) AS i
        ON CONFLICT (id) DO NOTHING
    """  # noqa: S608 (prefix and kind come from PREFIX, not from input)
    for start in range(0, count, CHUNK):
        await pg.execute(sql, start, min(count, start + CHUNK) - 1)

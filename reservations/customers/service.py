"""Customers: sign-up, login and the account page (product API)."""

from __future__ import annotations

import uuid

import asyncpg
from redis.asyncio import Redis

from core import auth, limits
from core.addresses import limit_subject
from core.config import Settings, get_settings
from core.db import Connection, queries_beside
from core.limits import Backoff, Limit
from reservations.customers.errors import InvalidCredentials
from reservations.customers.schemas import (
    Customer,
    CustomerAccount,
    CustomerPurchase,
    Session,
    clean_email,
    clean_text,
)
from reservations.errors import CustomerNotFound, EmailTaken
from reservations.events.schemas import Face

Q = queries_beside(__file__)


_decoy: list[str] = []


async def _decoy_hash() -> str:
    """Verified against when the email is unknown, so both failures take as long."""
    if not _decoy:
        _decoy.append(await auth.hash_password("not a real password, only a decoy"))
    return _decoy[0]


async def create_customer(conn: Connection, *, name: str, email: str, password: str) -> Session:
    name = clean_text(name, field="name")
    email = clean_email(email)
    password_hash = await auth.hash_password(password)
    try:
        row = await conn.fetchrow(Q.insert_customer, name, email, None, password_hash, "product")
    except asyncpg.UniqueViolationError:
        raise EmailTaken(field="email") from None
    assert row is not None
    customer = Customer(id=row["id"], name=row["name"], email=row["email"])
    return Session(customer=customer, token=auth.issue_customer_token(customer.id))


def login_limits(settings: Settings, *, email: str, client_ip: str) -> tuple[list[Limit], Backoff]:
    """The counters a login attempt goes through (LOGIN_* settings), and its account's backoff.
    Accounts are counted by a digest of the email, known or not, so a refusal tells nothing."""
    account = limits.digest(email.strip().lower())
    backoff = Backoff(
        counter=limits.key("login-failures", account),
        block=limits.key("login-block", account),
        after=settings.login_backoff_after,
        first_s=settings.login_backoff_first_s,
        longest_s=settings.login_backoff_max_s,
    )
    window = settings.login_window_s
    return [
        Limit(
            limits.key("login-address", limit_subject(client_ip)), settings.login_limit_per_address, window
        ),
        Limit(limits.key("login-account", account), settings.login_limit_per_account, window),
        Limit.blocked_while(backoff.block),
    ], backoff


async def open_session(
    conn: Connection, redis: Redis, *, email: str, password: str, client_ip: str
) -> Session:
    """Log in; 401 on a wrong email or password, 429 while the address or the account is
    over its limit or the account is blocked after failures in a row (a success resets them)."""
    counters, backoff = login_limits(get_settings(), email=email, client_ip=client_ip)
    await limits.check_limits(redis, counters, detail="Too many login attempts")
    row = await conn.fetchrow(Q.get_login, email.strip())
    if row is None:
        # Spend the same time as a wrong password, so a reply does not tell which emails exist.
        await auth.verify_password(await _decoy_hash(), password)
    if row is None or not await auth.verify_password(row["password_hash"], password):
        if backoff.after > 0:
            await limits.record_failure(redis, backoff)
        raise InvalidCredentials()
    await limits.clear_failures(redis, backoff)
    customer = Customer(id=row["id"], name=row["name"], email=row["email"])
    return Session(customer=customer, token=auth.issue_customer_token(customer.id))


async def get_account(conn: Connection, *, customer_id: uuid.UUID) -> CustomerAccount:
    row = await conn.fetchrow(Q.get_customer, customer_id)
    if row is None:
        raise CustomerNotFound()
    purchases = [
        CustomerPurchase(
            id=p["id"],
            event_id=p["event_id"],
            event_name=p["event_name"],
            price_cents=p["price_cents"],
            half_price=p["half_price"],
            section=p["section"],
            row=p["row_label"],
            seat=p["seat_number"],
            created_at=p["created_at"],
            status="confirmed",
        )
        for p in await conn.fetch(Q.list_customer_purchases, customer_id)
    ]
    return CustomerAccount(id=row["id"], name=row["name"], email=row["email"], purchases=purchases)


# Rows for the other faces of the same customers (the challenge contract, the seed, holds).


async def insert_customer_row(
    conn: Connection,
    *,
    name: str,
    email: str,
    cpf: str | None,
    password_hash: str | None,
    face: Face = "product",
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(Q.insert_customer, name, email, cpf, password_hash, face)
    return row


async def find_customer(conn: Connection, *, customer_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(Q.get_customer, customer_id)
    return row


async def list_purchase_rows(conn: Connection, *, customer_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(Q.list_customer_purchases, customer_id)
    return rows


async def customer_name(conn: Connection, *, customer_id: uuid.UUID) -> str | None:
    name: str | None = await conn.fetchval(Q.customer_name, customer_id)
    return name


async def seed_customers(conn: Connection, *, rows: list[tuple[uuid.UUID, str, str, str]]) -> None:
    """Customers with fixed ids (the challenge's seed); existing ones are kept."""
    await conn.executemany(Q.seed_customer, rows)

"""Customers of the product API: sign-up, login and the account with its purchases."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated

import msgspec

from core.errors import BadRequest
from core.schemas import Out, Struct

# Loose on purpose: one @, no spaces, a dot in the domain. Delivery is the real test.
_EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]+$")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


def clean_text(value: str, *, field: str) -> str:
    """Trimmed text that is neither blank nor carries a NUL byte (PostgreSQL refuses those)."""
    text = value.strip()
    if not text:
        raise BadRequest("Must not be blank.", field=field)
    if "\x00" in text:
        raise BadRequest("Must not contain NUL characters.", field=field)
    return text


def clean_email(value: str, *, field: str = "email") -> str:
    """A plausible email address, trimmed (logins compare it case-insensitively)."""
    email = value.strip()
    if not _EMAIL.match(email):
        raise BadRequest("Not a valid email address.", field=field)
    return email


class CustomerCreate(Struct, frozen=True, kw_only=True):
    name: Name
    email: Email
    password: Password


class SessionCreate(Struct, frozen=True, kw_only=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Customer(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    email: str


class Session(Out, frozen=True, kw_only=True):
    customer: Customer
    token: str


class CustomerPurchase(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    price_cents: int
    half_price: bool
    section: str | None
    row: str | None
    seat: int | None
    created_at: dt.datetime
    status: str


class CustomerAccount(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    email: str
    purchases: list[CustomerPurchase]

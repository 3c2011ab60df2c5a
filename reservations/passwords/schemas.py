"""Password reset bodies."""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.schemas import Out, Struct
from reservations.customers.schemas import Email, Password


class PasswordResetCreate(Struct, frozen=True, kw_only=True):
    email: Email


class PasswordResetConfirm(Struct, frozen=True, kw_only=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    password: Password


class PasswordResetQueued(Out, frozen=True, kw_only=True):
    status: str = "queued"  # the same whether or not the address has an account

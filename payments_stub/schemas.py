"""Bodies of the payments stub's API."""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.schemas import Out, Struct

CardNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{12,19}$", description="12 to 19 digits")]


class ChargeCreate(Struct, frozen=True):
    amount_cents: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    card_number: CardNumber
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""


class Charge(Out, frozen=True):
    id: str
    status: str  # "succeeded" | "declined" | "refunded"
    amount_cents: int
    description: str
    card_last4: str
    decline_code: str | None
    created_at: str
    refunded_at: str | None
    refunded_cents: int = 0  # partial refunds add up; the charge is "refunded" once all is back
    refunds: int = 0  # distinct refunds made (a replayed Idempotency-Key makes none)


class RefundCreate(Struct, frozen=True):
    """Optional body of a refund: without it (or without `amount_cents`), all that is left."""

    amount_cents: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] | None = None


class ChargeList(Out, frozen=True):
    total: int
    charges: list[Charge]

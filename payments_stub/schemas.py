"""Bodies of the payments stub's API."""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.schemas import Out, Struct

CardNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{12,19}$", description="12 to 19 digits")]
PaymentMethodId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^pm_[A-Za-z0-9_]{1,64}$",
        description="A payment method's id, from `POST /v1/payment_methods` (`pm_...`)",
    ),
]


class PaymentMethodCreate(Struct, frozen=True):
    card_number: CardNumber


class PaymentMethod(Out, frozen=True):
    """A tokenised card: what the provider shows of it. The number stays with the provider."""

    id: str
    brand: str  # visa | mastercard | amex | unknown
    last4: str


class ChargeCreate(Struct, frozen=True):
    amount_cents: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    payment_method: PaymentMethodId
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""


class Charge(Out, frozen=True):
    id: str
    status: str  # "succeeded" | "declined" | "refunded"
    amount_cents: int
    description: str
    payment_method: str
    card_last4: str  # empty when the payment method is unknown (the charge is declined)
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

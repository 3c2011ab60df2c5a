"""The fake provider's behaviour: tokenised cards, test cards, idempotency, latency and
failures.

State lives in memory, in one `ChargeStore` per application.

Cards are tokenised as by a real provider: `POST /v1/payment_methods {card_number}` keeps
the number here and answers a `pm_...` id, brand and last four digits; charges name the
payment method, never the card, so the callers of the provider never hold a number. A
charge on an unknown payment method (never created, forgotten by a restart, or evicted
once `max_payment_methods` are kept) is declined with `payment_method_not_found`.

Test cards: 4242424242424242 succeeds, 4000000000000002 is declined, 4000000000009995
succeeds after `slow_card_delay_s`. Any other number succeeds when it passes the Luhn
check and is declined (`incorrect_number`) when it does not. Each is tokenised first; the
fixed test payment methods `pm_card_visa`, `pm_card_chargeDeclined` and `pm_card_slow`
stand for the three test cards without a tokenisation (as a real provider's test mode has
them), for load clients and tests that are not about the card.

Latency and failures (PAYMENTS_LATENCY_MS, PAYMENTS_FAILURE_RATE) apply to the calls that
move money (charge, refund): the call sleeps for the latency, then fails with a 503
at the configured rate before anything is stored.

Idempotency: a charge created with an Idempotency-Key is the answer to every later request
with that key, also to one arriving while the first is still being decided. The same key
with another body is refused (422).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import secrets
from dataclasses import dataclass, field

import msgspec

from core.config import from_env as settings_from_env
from core.errors import AppError, Conflict, NotFound
from core.idempotency import KeyReused
from payments_stub.schemas import Charge, ChargeCreate, PaymentMethod

ENV_PREFIX = "PAYMENTS_"
SUCCEEDS = "4242424242424242"
DECLINES = "4000000000000002"
SLOW = "4000000000009995"
# The fixed test payment methods, one per test card.
PM_SUCCEEDS = "pm_card_visa"
PM_DECLINES = "pm_card_chargeDeclined"
PM_SLOW = "pm_card_slow"
TEST_PAYMENT_METHODS = {PM_SUCCEEDS: SUCCEEDS, PM_DECLINES: DECLINES, PM_SLOW: SLOW}


class ProviderFailure(AppError):
    status_code = 503
    code = "provider_unavailable"
    default_detail = "Simulated provider failure; nothing was stored. Retry with the same key."


class ChargeNotFound(NotFound):
    code = "charge_not_found"
    default_detail = "No charge with this id."


class NotRefundable(Conflict):
    code = "charge_not_refundable"
    default_detail = "Only a succeeded charge can be refunded."


class StubConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The stub's own settings, each read from `PAYMENTS_` + its name in upper case
    (`PAYMENTS_LATENCY_MS`, ...) like `core.config.Settings`; listed in `.env.example`.
    `port` is where `manage.py run` serves the stub. `cors_origins` (comma-separated) are
    the web app's origins, whose pages may tokenise a card here from the browser."""

    port: int = 8100
    latency_ms: float = 0.0
    failure_rate: float = 0.0
    slow_card_delay_s: float = 2.0
    cors_origins: str = "http://localhost:8000,http://127.0.0.1:8000"
    max_payment_methods: int = 100_000

    @property
    def origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @classmethod
    def from_env(cls) -> StubConfig:
        return settings_from_env(cls, prefix=ENV_PREFIX)


def luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(card_number: str) -> str:
    """The network of a card number, from its leading digits."""
    if card_number.startswith("4"):
        return "visa"
    if card_number[:2] in ("34", "37"):
        return "amex"
    if "51" <= card_number[:2] <= "55" or "2221" <= card_number[:4] <= "2720":
        return "mastercard"
    return "unknown"


def decide(card_number: str | None) -> tuple[str, str | None]:
    """(status, decline_code) of a charge on this card (None: no card behind the payment
    method)."""
    if card_number is None:
        return "declined", "payment_method_not_found"
    if card_number == DECLINES:
        return "declined", "card_declined"
    if card_number in (SUCCEEDS, SLOW) or luhn_valid(card_number):
        return "succeeded", None
    return "declined", "incorrect_number"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _fingerprint(body: ChargeCreate) -> str:
    raw = f"{body.amount_cents}\0{body.payment_method}\0{body.description}"
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(slots=True)
class _Pending:
    fingerprint: str
    task: asyncio.Task[Charge]


@dataclass(slots=True)
class ChargeStore:
    config: StubConfig = field(default_factory=StubConfig)
    rng: random.Random = field(default_factory=random.Random)
    charges: dict[str, Charge] = field(default_factory=dict)
    by_key: dict[str, _Pending] = field(default_factory=dict)
    refund_keys: set[str] = field(default_factory=set)
    cards: dict[str, str] = field(default_factory=dict)  # payment method id -> card number

    def create_payment_method(self, card_number: str) -> PaymentMethod:
        """Keep the card here and name it by a new `pm_...` id. The oldest are forgotten
        beyond `max_payment_methods` (memory stays bounded whoever calls)."""
        pm_id = f"pm_{secrets.token_hex(12)}"
        self.cards[pm_id] = card_number
        while len(self.cards) > max(self.config.max_payment_methods, 1):
            del self.cards[next(iter(self.cards))]
        return PaymentMethod(id=pm_id, brand=card_brand(card_number), last4=card_number[-4:])

    def card_of(self, payment_method: str) -> str | None:
        return TEST_PAYMENT_METHODS.get(payment_method) or self.cards.get(payment_method)

    async def _disturb(self) -> None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if self.config.failure_rate > 0 and self.rng.random() < self.config.failure_rate:
            raise ProviderFailure()

    async def create_charge(self, body: ChargeCreate, *, idempotency_key: str | None) -> tuple[Charge, bool]:
        """The charge for this request and whether this call created it."""
        await self._disturb()
        if idempotency_key is None:
            return await self._decide(body), True
        fp = _fingerprint(body)
        pending = self.by_key.get(idempotency_key)
        if pending is not None:
            if pending.fingerprint != fp:
                raise KeyReused()
            return await asyncio.shield(pending.task), False
        # Decided in its own task: a caller that gives up (timeout, disconnect) does not
        # leave the key half done; a retry with the key waits for the same answer.
        task = asyncio.create_task(self._decide(body))
        self.by_key[idempotency_key] = _Pending(fp, task)
        return await asyncio.shield(task), True

    async def _decide(self, body: ChargeCreate) -> Charge:
        card = self.card_of(body.payment_method)
        if card == SLOW and self.config.slow_card_delay_s > 0:
            await asyncio.sleep(self.config.slow_card_delay_s)
        status, decline_code = decide(card)
        charge = Charge(
            id=f"ch_{secrets.token_hex(12)}",
            status=status,
            amount_cents=body.amount_cents,
            description=body.description,
            payment_method=body.payment_method,
            card_last4=card[-4:] if card else "",
            decline_code=decline_code,
            created_at=_now(),
            refunded_at=None,
        )
        self.charges[charge.id] = charge
        return charge

    def get_charge(self, charge_id: str) -> Charge:
        try:
            return self.charges[charge_id]
        except KeyError:
            raise ChargeNotFound() from None

    async def refund_charge(
        self, charge_id: str, *, amount_cents: int | None = None, idempotency_key: str | None = None
    ) -> Charge:
        """Give back `amount_cents` (all that is left when None). A refund under an
        Idempotency-Key already used for this charge refunds nothing more."""
        await self._disturb()
        charge = self.get_charge(charge_id)
        scoped = f"refund:{charge_id}:{idempotency_key}" if idempotency_key else None
        if scoped is not None and scoped in self.refund_keys:
            return charge
        if charge.status == "refunded" and amount_cents is None:
            return charge
        left = charge.amount_cents - charge.refunded_cents
        amount = left if amount_cents is None else amount_cents
        if charge.status not in ("succeeded", "refunded") or charge.decline_code or amount > left:
            raise NotRefundable()
        refunded_cents = charge.refunded_cents + amount
        refunded = msgspec.structs.replace(
            charge,
            status="refunded" if refunded_cents == charge.amount_cents else "succeeded",
            refunded_at=_now(),
            refunded_cents=refunded_cents,
            refunds=charge.refunds + 1,
        )
        self.charges[charge_id] = refunded
        if scoped is not None:
            self.refund_keys.add(scoped)
        return refunded

    def list_charges(self, *, description: str | None = None, status: str | None = None) -> list[Charge]:
        return [
            c
            for c in self.charges.values()
            if (description is None or c.description == description)
            and (status is None or c.status == status)
        ]

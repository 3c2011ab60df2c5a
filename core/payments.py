"""The HTTP client of the payment provider (API.md section 3).

The API never sees a card: the web app's page tokenises it at the provider
(`POST /v1/payment_methods`) and the API charges the payment method (`pm_...`) it was given.
Every charge carries an Idempotency-Key chosen by the caller. A timeout or a 5xx is retried
with the SAME key, so the provider sees one charge however many times the request is
sent. The errors here are provider-level; a domain maps them to its own HTTP errors.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import httpx
import msgspec

log = logging.getLogger("crowdpass.payments")

DEFAULT_BACKOFF_S = 0.05

# What an order or a hold confirm names to pay with: a payment method of the provider.
PaymentMethodId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^pm_[A-Za-z0-9_]{1,64}$",
        description="A payment method of the provider (`pm_...`): the card tokenised by "
        "`POST /v1/payment_methods` at the payments provider. Never a card number.",
        examples=["pm_card_visa"],
    ),
]


class Charge(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    status: str  # "succeeded" | "declined" | "refunded"
    amount_cents: int


class PaymentError(Exception):
    """Base of the provider errors."""


class CardDeclined(PaymentError):
    """The provider answered: the card was declined. Nothing was captured."""

    def __init__(self, charge: Charge) -> None:
        self.charge = charge
        super().__init__(f"charge {charge.id} declined")


class ProviderUnavailable(PaymentError):
    """No definite answer (timeouts, 5xx, transport errors) after every retry.

    The charge may or may not exist at the provider: retry with the same key to find out.
    """


class ProviderRejected(PaymentError):
    """The provider refused the request itself (4xx other than a decline)."""


_charge_decoder = msgspec.json.Decoder(Charge)


def should_retry(status_code: int) -> bool:
    """5xx and 429 are worth another try with the same key; other answers are final."""
    return status_code >= 500 or status_code == 429


def backoff_delay(attempt: int, base_s: float = DEFAULT_BACKOFF_S) -> float:
    """Delay before retry number `attempt` (1, 2, ...): exponential, capped at 2 s."""
    return float(min(base_s * 2 ** (attempt - 1), 2.0))


async def _send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json: object | None = None,
    headers: dict[str, str] | None = None,
    retries: int,
    timeout_s: float,
    backoff_s: float,
) -> httpx.Response:
    last: str = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(backoff_delay(attempt, backoff_s))
        try:
            response = await http.request(method, url, json=json, headers=headers, timeout=timeout_s)
        except httpx.TimeoutException:
            last = f"timed out after {timeout_s}s"
        except httpx.TransportError as exc:
            last = f"transport error: {exc!r}"
        else:
            if not should_retry(response.status_code):
                return response
            last = f"answered {response.status_code}"
        log.warning(
            "payment provider %s %s %s (attempt %d of %d)", method, url, last, attempt + 1, retries + 1
        )
    raise ProviderUnavailable(f"{method} {url}: {last}")


def _decode_charge(response: httpx.Response) -> Charge:
    if response.status_code >= 400:
        raise ProviderRejected(f"provider answered {response.status_code}: {response.text[:200]}")
    try:
        return _charge_decoder.decode(response.content)
    except msgspec.DecodeError as exc:  # includes ValidationError
        raise ProviderRejected(f"unexpected provider answer: {exc}") from None


async def charge(
    http: httpx.AsyncClient,
    *,
    amount_cents: int,
    payment_method: str,
    description: str,
    idempotency_key: str,
    retries: int = 2,
    timeout_s: float = 3.0,
    backoff_s: float = DEFAULT_BACKOFF_S,
) -> Charge:
    """Charge a payment method once. Returns the succeeded charge; raises CardDeclined,
    ProviderUnavailable or ProviderRejected."""
    response = await _send(
        http,
        "POST",
        "/v1/charges",
        json={"amount_cents": amount_cents, "payment_method": payment_method, "description": description},
        headers={"Idempotency-Key": idempotency_key},
        retries=retries,
        timeout_s=timeout_s,
        backoff_s=backoff_s,
    )
    result = _decode_charge(response)
    if result.status == "declined":
        raise CardDeclined(result)
    if result.status != "succeeded":
        raise ProviderRejected(f"charge {result.id} is {result.status}")
    return result


async def refund(
    http: httpx.AsyncClient,
    *,
    charge_id: str,
    amount_cents: int | None = None,
    idempotency_key: str | None = None,
    retries: int = 2,
    timeout_s: float = 3.0,
    backoff_s: float = DEFAULT_BACKOFF_S,
) -> Charge:
    """Refund a succeeded charge, in full or `amount_cents` of it. Refunding in full twice
    is harmless; a partial refund is made once per `idempotency_key`."""
    response = await _send(
        http,
        "POST",
        f"/v1/charges/{charge_id}/refund",
        json=None if amount_cents is None else {"amount_cents": amount_cents},
        headers=None if idempotency_key is None else {"Idempotency-Key": idempotency_key},
        retries=retries,
        timeout_s=timeout_s,
        backoff_s=backoff_s,
    )
    return _decode_charge(response)

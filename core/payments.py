"""The HTTP client of the payment provider (API.md section 3).

The API never sees a card: the web app's page tokenises it at the provider
(`POST /v1/payment_methods`) and the API charges the payment method (`pm_...`) it was given.
Every charge carries an Idempotency-Key chosen by the caller. A timeout or a 5xx is retried
with the SAME key, so the provider sees one charge however many times the request is
sent. The errors here are provider-level; a domain maps them to its own HTTP errors.

A `CircuitBreaker` (one per process, `Resources.breaker`) stands in front of the provider:
after PAYMENTS_BREAKER_FAILURES calls in a row without an answer it opens, and calls fail at
once with `CircuitOpen` instead of each waiting for its timeouts; after
PAYMENTS_BREAKER_COOLDOWN_S one call goes through as a probe (half open): an answer closes
the breaker, another failure opens it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import Annotated, Literal

import httpx
import msgspec

from core.keepalive import KeepAliveTransport

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


class CircuitOpen(ProviderUnavailable):
    """The breaker is open: the provider was not called (nothing can have been charged by
    this call). Retry after `retry_in_s`."""

    def __init__(self, retry_in_s: float) -> None:
        self.retry_in_s = retry_in_s
        super().__init__(f"payment provider circuit open; next probe in {retry_in_s:.1f}s")


BreakerState = Literal["closed", "open", "half_open"]


class BreakerStatus(msgspec.Struct, frozen=True, kw_only=True):
    state: BreakerState
    since: float  # wall-clock time of the last change of state
    failures: int  # calls in a row without an answer
    opened: int  # times it opened since the process started


class CircuitBreaker:
    """Closed → open after `failures` calls in a row without an answer; open → half open
    after `cooldown_s` (one probe call allowed); half open → closed on an answer, → open on
    a failure. Not shared between processes: each learns from its own calls."""

    def __init__(
        self, *, failures: int = 5, cooldown_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, failures)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.state: BreakerState = "closed"
        self.failures = 0
        self.opened = 0
        self._opened_at = 0.0
        self._since = time.time()

    def _set(self, state: BreakerState) -> None:
        if state != self.state:
            log.warning("payment provider circuit %s", state.replace("_", " "))
            self.state = state
            self._since = time.time()

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go to the provider now."""
        if self.state == "closed":
            return
        wait = self._opened_at + self.cooldown_s - self._clock()
        if self.state == "open" and wait <= 0:
            self._set("half_open")  # this call is the probe
            return
        raise CircuitOpen(max(wait, 0.0) if self.state == "open" else self.cooldown_s)

    def succeeded(self) -> None:
        """The provider answered (any definite answer, a decline included)."""
        self.failures = 0
        self._set("closed")

    def failed(self) -> None:
        """A call got no answer (timeout, transport error, 5xx, 429)."""
        self.failures += 1
        if self.state == "half_open" or (self.state == "closed" and self.failures >= self.threshold):
            self._opened_at = self._clock()
            self.opened += 1
            self._set("open")

    def status(self) -> BreakerStatus:
        return BreakerStatus(state=self.state, since=self._since, failures=self.failures, opened=self.opened)


def provider_client(*, base_url: str, timeout_s: float, max_connections: int) -> httpx.AsyncClient:
    """The process's client of the payment provider (`Resources.http`): httpx over a lean
    keep-alive transport (`core.keepalive`, ADR 0021) for an `http://` provider, httpx's own
    otherwise."""
    if not base_url.startswith("http://"):
        return httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_connections),
        )
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s),
        transport=KeepAliveTransport(max_connections=max_connections),
    )


class ProviderRejected(PaymentError):
    """The provider refused the request itself (4xx other than a decline)."""


class _ChargeList(msgspec.Struct, frozen=True):
    charges: list[Charge]


_charge_decoder = msgspec.json.Decoder(Charge)
_json_encode = msgspec.json.Encoder().encode
JSON_HEADERS = {"Content-Type": "application/json"}
_charge_list_decoder = msgspec.json.Decoder(_ChargeList)


_charges_urls: weakref.WeakKeyDictionary[httpx.AsyncClient, httpx.URL] = weakref.WeakKeyDictionary()


def _charges_url(http: httpx.AsyncClient) -> httpx.URL:
    """`/v1/charges` merged with the client's base URL once per client, not parsed again on
    every charge."""
    url = _charges_urls.get(http)
    if url is None:
        url = _charges_urls[http] = http.build_request("POST", "/v1/charges").url
    return url


def should_retry(status_code: int) -> bool:
    """5xx and 429 are worth another try with the same key; other answers are final."""
    return status_code >= 500 or status_code == 429


def backoff_delay(attempt: int, base_s: float = DEFAULT_BACKOFF_S) -> float:
    """Delay before retry number `attempt` (1, 2, ...): exponential, capped at 2 s."""
    return float(min(base_s * 2 ** (attempt - 1), 2.0))


async def _send(
    http: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    json: object | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    retries: int,
    timeout_s: float,
    backoff_s: float,
    breaker: CircuitBreaker | None = None,
) -> httpx.Response:
    last: str = "no attempt made"
    content = None if json is None else _json_encode(json)
    if content is not None:
        headers = (headers or {}) | JSON_HEADERS
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(backoff_delay(attempt, backoff_s))
        if breaker is not None:
            breaker.before_call()  # CircuitOpen: the provider is not called
        try:
            response = await http.request(
                method, url, content=content, headers=headers, params=params, timeout=timeout_s
            )
        except httpx.TimeoutException:
            last = f"timed out after {timeout_s}s"
        except httpx.TransportError as exc:
            last = f"transport error: {exc!r}"
        else:
            if not should_retry(response.status_code):
                if breaker is not None:
                    breaker.succeeded()
                return response
            last = f"answered {response.status_code}"
        if breaker is not None:
            breaker.failed()
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
    breaker: CircuitBreaker | None = None,
) -> Charge:
    """Charge a payment method once. Returns the succeeded charge; raises CardDeclined,
    ProviderUnavailable (CircuitOpen when the breaker kept the call back) or ProviderRejected."""
    response = await _send(
        http,
        "POST",
        _charges_url(http),
        json={"amount_cents": amount_cents, "payment_method": payment_method, "description": description},
        headers={"Idempotency-Key": idempotency_key},
        retries=retries,
        timeout_s=timeout_s,
        backoff_s=backoff_s,
        breaker=breaker,
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
    breaker: CircuitBreaker | None = None,
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
        breaker=breaker,
    )
    return _decode_charge(response)


async def find_charges(
    http: httpx.AsyncClient,
    *,
    description: str,
    status: str | None = None,
    retries: int = 2,
    timeout_s: float = 3.0,
    backoff_s: float = DEFAULT_BACKOFF_S,
) -> list[Charge]:
    """The charges made with this description (optionally only those in `status`), oldest
    first: how a caller that lost a charge's answer (its process died) finds the charge."""
    params = {"description": description} | ({"status": status} if status else {})
    response = await _send(
        http, "GET", "/v1/charges", params=params, retries=retries, timeout_s=timeout_s, backoff_s=backoff_s
    )
    if response.status_code >= 400:
        raise ProviderRejected(f"provider answered {response.status_code}: {response.text[:200]}")
    try:
        return _charge_list_decoder.decode(response.content).charges
    except msgspec.DecodeError as exc:
        raise ProviderRejected(f"unexpected provider answer: {exc}") from None

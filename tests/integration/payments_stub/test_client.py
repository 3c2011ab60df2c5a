"""core.payments against the stub: retries on 503 and timeouts with one key, one charge."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from core import payments
from payments_stub.app import create_app
from payments_stub.service import PM_DECLINES as DECLINES
from payments_stub.service import PM_SLOW as SLOW
from payments_stub.service import PM_SUCCEEDS as SUCCEEDS
from payments_stub.service import StubConfig

PORTS = range(18200, 18300)


class Counted:
    """Counts the answers a client receives, by status (timeouts as 0)."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()

    async def on_response(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1


def asgi_client(config: StubConfig, counted: Counted, seed: int = 3) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(config, rng=random.Random(seed))),
        base_url="http://payments",
        event_hooks={"response": [counted.on_response]},
    )


async def charges_for(client: httpx.AsyncClient, description: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        await client.get("/v1/charges", params={"description": description})
    ).json()["charges"]
    return found


async def test_retries_503_with_the_same_key_and_charges_once() -> None:
    counted = Counted()
    # A seed whose first draw fails, so that the first attempt is a 503.
    seed = next(s for s in range(100) if random.Random(s).random() < 0.6)
    async with asgi_client(StubConfig(failure_rate=0.6), counted, seed=seed) as http:
        charge = await payments.charge(
            http,
            amount_cents=700,
            payment_method=SUCCEEDS,
            description="retry-503",
            idempotency_key="idem-503",
            retries=20,
            backoff_s=0.001,
        )
        assert charge.status == "succeeded" and charge.amount_cents == 700
        assert counted.statuses[503] >= 1  # it did retry
        assert counted.statuses[201] == 1
        # Replaying the call later (e.g. after a crash) finds the same charge.
        again = await payments.charge(
            http,
            amount_cents=700,
            payment_method=SUCCEEDS,
            description="retry-503",
            idempotency_key="idem-503",
            retries=20,
            backoff_s=0.001,
        )
        assert again == charge
        assert [c["id"] for c in await charges_for(http, "retry-503")] == [charge.id]


async def test_gives_up_after_the_retries() -> None:
    counted = Counted()
    async with asgi_client(StubConfig(failure_rate=1.0), counted) as http:
        with pytest.raises(payments.ProviderUnavailable):
            await payments.charge(
                http,
                amount_cents=1,
                payment_method=SUCCEEDS,
                description="down",
                idempotency_key="k",
                retries=2,
                backoff_s=0.001,
            )
        assert counted.statuses == Counter({503: 3})
        assert await charges_for(http, "down") == []


async def test_decline_and_rejection_are_not_retried() -> None:
    counted = Counted()
    async with asgi_client(StubConfig(), counted) as http:
        with pytest.raises(payments.CardDeclined) as declined:
            await payments.charge(
                http, amount_cents=1, payment_method=DECLINES, description="d", idempotency_key="d", retries=5
            )
        assert declined.value.charge.status == "declined"
        with pytest.raises(payments.ProviderRejected):
            await payments.charge(
                http, amount_cents=2, payment_method=DECLINES, description="d", idempotency_key="d", retries=5
            )
        assert counted.statuses == Counter({201: 1, 422: 1})
        refunded = await payments.refund(
            http,
            charge_id=(
                await payments.charge(
                    http, amount_cents=3, payment_method=SUCCEEDS, description="r", idempotency_key="r"
                )
            ).id,
        )
        assert refunded.status == "refunded"


def _port() -> int:
    for port in PORTS:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            return port
    raise RuntimeError("no free port in 18200-18299")


@pytest.fixture
async def slow_stub() -> AsyncIterator[str]:
    """The stub over real HTTP (timeouts need a real socket); the slow card takes 0.6 s."""
    app = create_app(StubConfig(slow_card_delay_s=0.6))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_port(), log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    await task


async def test_retries_timeouts_with_the_same_key_and_charges_once(slow_stub: str) -> None:
    timeouts = 0

    class CountingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal timeouts
            try:
                return await super().handle_async_request(request)
            except httpx.TimeoutException:
                timeouts += 1
                raise

    async with httpx.AsyncClient(base_url=slow_stub, transport=CountingTransport()) as http:
        charge = await payments.charge(
            http,
            amount_cents=990,
            payment_method=SLOW,
            description="retry-timeout",
            idempotency_key="idem-timeout",
            retries=8,
            timeout_s=0.2,
            backoff_s=0.01,
        )
        assert charge.status == "succeeded"
        assert timeouts >= 1
        assert [c["id"] for c in await charges_for(http, "retry-timeout")] == [charge.id]

        # Out of retries while the provider is still deciding: unavailable, not charged twice.
        with pytest.raises(payments.ProviderUnavailable):
            await payments.charge(
                http,
                amount_cents=991,
                payment_method=SLOW,
                description="give-up",
                idempotency_key="idem-give-up",
                retries=0,
                timeout_s=0.1,
            )
        later = await payments.charge(
            http,
            amount_cents=991,
            payment_method=SLOW,
            description="give-up",
            idempotency_key="idem-give-up",
            retries=0,
            timeout_s=2.0,
        )
        assert later.status == "succeeded"
        assert [c["id"] for c in await charges_for(http, "give-up")] == [later.id]

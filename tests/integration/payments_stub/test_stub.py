"""The payments stub's HTTP API: tokenised cards, test cards, idempotency, latency and failures."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payments_stub.app import create_app
from payments_stub.service import DECLINES, PM_DECLINES, PM_SLOW, PM_SUCCEEDS, SLOW, SUCCEEDS, StubConfig


def stub(config: StubConfig | None = None, *, seed: int | None = None) -> httpx.AsyncClient:
    app = create_app(config or StubConfig(slow_card_delay_s=0.2), rng=random.Random(seed))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments")


@pytest.fixture
async def payments() -> AsyncIterator[httpx.AsyncClient]:
    async with stub() as client:
        yield client


def body(pm: str = PM_SUCCEEDS, amount: int = 5000, description: str = "order 1") -> dict[str, Any]:
    return {"amount_cents": amount, "payment_method": pm, "description": description}


async def tokenise(client: httpx.AsyncClient, card: str) -> dict[str, Any]:
    r = await client.post("/v1/payment_methods", json={"card_number": card})
    assert r.status_code == 201, r.text
    pm: dict[str, Any] = r.json()
    return pm


async def listed(client: httpx.AsyncClient, description: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/charges", params={"description": description})
    assert r.status_code == 200
    assert r.json()["total"] == len(r.json()["charges"])
    charges: list[dict[str, Any]] = r.json()["charges"]
    return charges


@pytest.mark.parametrize(
    ("card", "status", "decline_code"),
    [
        (SUCCEEDS, "succeeded", None),
        (DECLINES, "declined", "card_declined"),
        (SLOW, "succeeded", None),
        ("5555555555554444", "succeeded", None),
        ("4242424242424241", "declined", "incorrect_number"),
    ],
)
async def test_every_card(
    payments: httpx.AsyncClient, card: str, status: str, decline_code: str | None
) -> None:
    pm = await tokenise(payments, card)
    started = time.perf_counter()
    r = await payments.post("/v1/charges", json=body(pm["id"], 1234), headers={"Idempotency-Key": card})
    elapsed = time.perf_counter() - started
    assert r.status_code == 201
    charge = r.json()
    assert (charge["status"], charge["amount_cents"], charge["decline_code"]) == (status, 1234, decline_code)
    assert charge["id"].startswith("ch_") and charge["card_last4"] == card[-4:]
    assert charge["payment_method"] == pm["id"]
    assert card not in r.text
    if card == SLOW:
        assert elapsed >= 0.2
    else:
        assert elapsed < 0.2
    got = await payments.get(f"/v1/charges/{charge['id']}")
    assert got.status_code == 200 and got.json() == charge


async def test_same_key_same_charge(payments: httpx.AsyncClient) -> None:
    first = await payments.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k-1"})
    again = await payments.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await listed(payments, "order 1")) == 1
    # The same key with another body is refused and stores nothing.
    other = await payments.post("/v1/charges", json=body(amount=1), headers={"Idempotency-Key": "k-1"})
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")
    assert len(await listed(payments, "order 1")) == 1
    # Without a key every request is a new charge.
    for _ in range(2):
        assert (await payments.post("/v1/charges", json=body(description="no key"))).status_code == 201
    assert len(await listed(payments, "no key")) == 2


async def test_concurrent_same_key_waits_for_one_decision(payments: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(
        *(
            payments.post(
                "/v1/charges", json=body(PM_SLOW, description="burst"), headers={"Idempotency-Key": "b"}
            )
            for _ in range(10)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(await listed(payments, "burst")) == 1


async def test_refund(payments: httpx.AsyncClient) -> None:
    ok = (await payments.post("/v1/charges", json=body())).json()
    refunded = await payments.post(f"/v1/charges/{ok['id']}/refund")
    assert refunded.status_code == 200
    assert refunded.json()["status"] == "refunded" and refunded.json()["refunded_at"]
    twice = await payments.post(f"/v1/charges/{ok['id']}/refund")
    assert twice.status_code == 200 and twice.json() == refunded.json()
    assert (await payments.get(f"/v1/charges/{ok['id']}")).json()["status"] == "refunded"
    declined = (await payments.post("/v1/charges", json=body(PM_DECLINES))).json()
    r = await payments.post(f"/v1/charges/{declined['id']}/refund")
    assert (r.status_code, r.json()["error"]) == (409, "charge_not_refundable")
    r = await payments.post("/v1/charges/ch_nope/refund")
    assert (r.status_code, r.json()["error"]) == (404, "charge_not_found")
    assert (await payments.get("/v1/charges/ch_nope")).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"amount_cents": 0, "payment_method": PM_SUCCEEDS}, "amount_cents"),
        ({"amount_cents": "5", "payment_method": PM_SUCCEEDS}, "amount_cents"),
        ({"amount_cents": 5, "payment_method": "card_visa"}, "payment_method"),
        ({"amount_cents": 5, "payment_method": "pm_4242-4242"}, "payment_method"),
        ({"amount_cents": 5}, "payment_method"),
        # Charges take a payment method only: a card number is refused, nothing is charged.
        ({"amount_cents": 5, "payment_method": PM_SUCCEEDS, "card_number": SUCCEEDS}, "card_number"),
    ],
)
async def test_bad_input(payments: httpx.AsyncClient, payload: dict[str, Any], field: str) -> None:
    r = await payments.post("/v1/charges", json=payload, headers={"Idempotency-Key": "bad"})
    assert r.status_code == 400
    assert r.json()["field"] == field
    assert (await payments.get("/v1/charges")).json()["total"] == 0
    # The key was not burnt by the bad request.
    good = await payments.post("/v1/charges", json=body(), headers={"Idempotency-Key": "bad"})
    assert good.status_code == 201


@pytest.mark.parametrize(
    ("card", "brand"),
    [
        (SUCCEEDS, "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "unknown"),
    ],
)
async def test_tokenising_a_card(payments: httpx.AsyncClient, card: str, brand: str) -> None:
    r = await payments.post("/v1/payment_methods", json={"card_number": card})
    assert r.status_code == 201
    assert r.json()["brand"] == brand and r.json()["last4"] == card[-4:]
    assert r.json()["id"].startswith("pm_") and card not in r.text
    again = await tokenise(payments, card)
    assert again["id"] != r.json()["id"]  # each tokenisation names a new payment method


async def test_test_cards_keep_their_behaviour_through_the_token(payments: httpx.AsyncClient) -> None:
    """The fixed test payment methods and a tokenised test card decide alike."""
    for card, fixed in ((SUCCEEDS, PM_SUCCEEDS), (DECLINES, PM_DECLINES)):
        pm = await tokenise(payments, card)
        a = (await payments.post("/v1/charges", json=body(pm["id"]))).json()
        b = (await payments.post("/v1/charges", json=body(fixed))).json()
        assert (a["status"], a["decline_code"], a["card_last4"]) == (
            b["status"],
            b["decline_code"],
            b["card_last4"],
        )


async def test_an_unknown_payment_method_is_declined(payments: httpx.AsyncClient) -> None:
    r = await payments.post("/v1/charges", json=body("pm_0123456789abcdef01234567"))
    assert r.status_code == 201
    charge = r.json()
    assert (charge["status"], charge["decline_code"], charge["card_last4"]) == (
        "declined",
        "payment_method_not_found",
        "",
    )


async def test_payment_methods_beyond_the_cap_are_forgotten_oldest_first() -> None:
    async with stub(StubConfig(max_payment_methods=2)) as capped:
        first, second, third = [await tokenise(capped, SUCCEEDS) for _ in range(3)]
        statuses = [
            (await capped.post("/v1/charges", json=body(pm["id"]))).json()["status"]
            for pm in (first, second, third)
        ]
        assert statuses == ["declined", "succeeded", "succeeded"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"card_number": "4242"}, "card_number"),
        ({"card_number": "4242 4242 4242 4242"}, "card_number"),
        ({"card_number": 4242424242424242}, "card_number"),
        ({}, "card_number"),
        ({"card_number": SUCCEEDS, "cvc": "123"}, "cvc"),
    ],
)
async def test_tokenising_bad_input(payments: httpx.AsyncClient, payload: dict[str, Any], field: str) -> None:
    r = await payments.post("/v1/payment_methods", json=payload)
    assert (r.status_code, r.json()["error"], r.json()["field"]) == (400, "invalid_input", field)
    assert "4242" not in r.text  # an error never echoes the number


async def test_cors_lets_the_web_app_tokenise_and_no_other_origin() -> None:
    app_origin = "http://shop.example:3000"
    async with stub(StubConfig(cors_origins=f"{app_origin},http://localhost:8000")) as payments:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        ok = await payments.options("/v1/payment_methods", headers={"Origin": app_origin, **preflight})
        assert ok.status_code in (200, 204), ok.text
        assert ok.headers["access-control-allow-origin"] == app_origin
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "content-type" in ok.headers["access-control-allow-headers"].lower()
        r = await payments.post(
            "/v1/payment_methods", json={"card_number": SUCCEEDS}, headers={"Origin": app_origin}
        )
        assert r.status_code == 201 and r.headers["access-control-allow-origin"] == app_origin
        evil = "http://evil.example"
        refused = await payments.options("/v1/payment_methods", headers={"Origin": evil, **preflight})
        assert refused.headers.get("access-control-allow-origin") != evil
        r = await payments.post(
            "/v1/payment_methods", json={"card_number": SUCCEEDS}, headers={"Origin": evil}
        )
        assert "access-control-allow-origin" not in r.headers


async def test_latency() -> None:
    async with stub(StubConfig(latency_ms=150)) as slow:
        started = time.perf_counter()
        r = await slow.post("/v1/charges", json=body())
        assert r.status_code == 201
        assert time.perf_counter() - started >= 0.15


async def test_failure_rate_one_stores_nothing() -> None:
    async with stub(StubConfig(failure_rate=1.0)) as broken:
        for _ in range(5):
            r = await broken.post("/v1/charges", json=body(), headers={"Idempotency-Key": "f"})
            assert (r.status_code, r.json()["error"]) == (503, "provider_unavailable")
        assert (await broken.get("/v1/charges")).json()["total"] == 0


async def test_failure_rate_is_a_rate() -> None:
    async with stub(StubConfig(failure_rate=0.3), seed=11) as flaky:
        codes = [
            (await flaky.post("/v1/charges", json=body(description=str(uuid.uuid4())))).status_code
            for _ in range(200)
        ]
        failures = codes.count(503)
        assert set(codes) == {201, 503}
        assert 30 <= failures <= 90  # 60 expected
        assert (await flaky.get("/v1/charges")).json()["total"] == codes.count(201)

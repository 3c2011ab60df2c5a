"""Pure pieces of the payment client and the stub: no I/O."""

from __future__ import annotations

import uuid

import pytest

from core import payments
from payments_stub.service import DECLINES, SLOW, SUCCEEDS, StubConfig, decide, luhn_valid
from reservations.holds.confirm import payment_description, payment_key


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4000000000000002", True),
        ("4000000000009995", True),
        ("4000056655665556", True),
        ("79927398713", True),
        ("4242424242424241", False),
        ("1234567812345678", False),
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_test_cards() -> None:
    assert decide(SUCCEEDS) == ("succeeded", None)
    assert decide(DECLINES) == ("declined", "card_declined")
    assert decide(SLOW) == ("succeeded", None)
    assert decide("5555555555554444") == ("succeeded", None)  # any other valid number
    assert decide("4242424242424241") == ("declined", "incorrect_number")


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (500, True),
        (502, True),
        (503, True),
        (429, True),
        (200, False),
        (201, False),
        (400, False),
        (404, False),
        (422, False),
    ],
)
def test_which_answers_are_retried(status: int, retry: bool) -> None:
    assert payments.should_retry(status) is retry


def test_backoff_grows_and_is_capped() -> None:
    delays = [payments.backoff_delay(n, 0.05) for n in range(1, 10)]
    assert delays[:3] == [0.05, 0.1, 0.2]
    assert delays == sorted(delays)
    assert max(delays) == 2.0


def test_provider_key_is_stable_per_hold_and_attempt() -> None:
    hold = uuid.uuid4()
    assert payment_key(hold, 0) == payment_key(hold, 0)
    assert payment_key(hold, 0) != payment_key(hold, 1)
    assert payment_key(hold, 0) != payment_key(uuid.uuid4(), 0)
    assert str(hold) in payment_description(hold)


def test_stub_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYMENTS_LATENCY_MS", raising=False)
    monkeypatch.delenv("PAYMENTS_FAILURE_RATE", raising=False)
    monkeypatch.delenv("PAYMENTS_SLOW_CARD_DELAY_S", raising=False)
    assert StubConfig.from_env() == StubConfig(latency_ms=0, failure_rate=0, slow_card_delay_s=2.0)
    monkeypatch.setenv("PAYMENTS_LATENCY_MS", "120")
    monkeypatch.setenv("PAYMENTS_FAILURE_RATE", "0.25")
    monkeypatch.setenv("PAYMENTS_SLOW_CARD_DELAY_S", "0.5")
    assert StubConfig.from_env() == StubConfig(latency_ms=120, failure_rate=0.25, slow_card_delay_s=0.5)

"""The payment provider's circuit breaker, on a clock the test moves."""

from __future__ import annotations

import pytest

from core.payments import CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_the_threshold_of_failures_in_a_row() -> None:
    breaker = CircuitBreaker(failures=3, cooldown_s=5, clock=Clock())
    breaker.failed()
    breaker.failed()
    breaker.before_call()  # still closed
    breaker.failed()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call()
    assert raised.value.retry_in_s == 5


def test_an_answer_between_failures_starts_the_count_again() -> None:
    breaker = CircuitBreaker(failures=2, cooldown_s=5, clock=Clock())
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.state == "closed"


def test_after_the_cooldown_one_probe_goes_and_its_answer_closes_the_circuit() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown_s=5, clock=clock)
    breaker.failed()
    clock.now += 4.9
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 0.2
    breaker.before_call()  # the probe
    assert breaker.state == "half_open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # a second call while the probe is out
    breaker.succeeded()
    assert breaker.state == "closed"
    breaker.before_call()
    assert breaker.status().opened == 1


def test_a_failed_probe_opens_the_circuit_for_another_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown_s=5, clock=clock)
    for _ in range(3):
        breaker.failed()
    clock.now += 5
    breaker.before_call()
    breaker.failed()  # one failure is enough when half open
    assert breaker.state == "open"
    clock.now += 4
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call()
    assert raised.value.retry_in_s == pytest.approx(1)
    assert breaker.status().opened == 2

"""core.payments.ProviderTransport against the stub over real HTTP: the client keeps the
capacity of `max_connections` as several small pools, picks a pool with a free connection,
and gives every place back whatever the answer (a timeout, a refused connection)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from core import payments
from payments_stub.service import PM_SLOW as SLOW
from payments_stub.service import PM_SUCCEEDS as SUCCEEDS
from tests.integration.payments_stub.test_client import slow_stub  # noqa: F401 (a fixture)

SLOW_S = 0.6  # the slow card's delay in the slow_stub fixture


def _client(base_url: str, transport: payments.ProviderTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, transport=transport)


async def _charge(http: httpx.AsyncClient, card: str, *, timeout_s: float = 5.0) -> payments.Charge:
    key = uuid.uuid4().hex
    return await payments.charge(
        http,
        amount_cents=100,
        payment_method=card,
        description=f"transport {key}",
        idempotency_key=key,
        retries=0,
        timeout_s=timeout_s,
    )


def test_the_pools_add_up_to_max_connections() -> None:
    assert payments.ProviderTransport(max_connections=10, per_pool=4).sizes == [4, 4, 2]
    assert payments.ProviderTransport(max_connections=100).sizes == [4] * 25
    assert payments.ProviderTransport(max_connections=3, per_pool=4).sizes == [3]
    assert payments.ProviderTransport(max_connections=0).sizes == [1]


def test_a_request_goes_to_the_next_pool_with_a_free_connection() -> None:
    t = payments.ProviderTransport(max_connections=12, per_pool=4)
    assert [t.pick() for _ in range(4)] == [0, 1, 2, 0]  # in turn while all are free
    t.busy[:] = [4, 0, 4]  # a slow provider call holds pools 0 and 2
    assert [t.pick() for _ in range(3)] == [1, 1, 1]
    t.busy[:] = [4, 5, 4]  # every pool full: the least busy one (its request waits there)
    assert t.pick() == 0


async def test_max_connections_charges_run_at_once_and_no_more(slow_stub: str) -> None:  # noqa: F811
    transport = payments.ProviderTransport(max_connections=10)
    async with _client(slow_stub, transport) as http:
        start = time.monotonic()
        done = await asyncio.gather(*(_charge(http, SLOW) for _ in range(10)))
        one_round = time.monotonic() - start
        assert {c.status for c in done} == {"succeeded"}
        assert one_round < 2 * SLOW_S  # all ten at once: the full capacity is there
        assert transport.busy == [0, 0, 0]

        # Control: twelve charges need a second round, since only ten connections exist.
        start = time.monotonic()
        await asyncio.gather(*(_charge(http, SLOW) for _ in range(12)))
        assert time.monotonic() - start >= 2 * SLOW_S
        assert transport.busy == [0, 0, 0]


async def test_quick_charges_pass_slow_ones_holding_connections(slow_stub: str) -> None:  # noqa: F811
    transport = payments.ProviderTransport(max_connections=8)
    async with _client(slow_stub, transport) as http:
        slow = [asyncio.create_task(_charge(http, SLOW)) for _ in range(6)]
        await asyncio.sleep(0.1)  # the six are in flight, three in each pool of four
        assert sum(transport.busy) == 6
        start = time.monotonic()
        quick = await asyncio.gather(*(_charge(http, SUCCEEDS) for _ in range(20)))
        assert time.monotonic() - start < SLOW_S / 2  # through the two free connections
        assert {c.status for c in quick} == {"succeeded"}
        assert {c.status for c in await asyncio.gather(*slow)} == {"succeeded"}
        assert transport.busy == [0, 0]


async def test_timeouts_and_refused_connections_give_their_place_back(slow_stub: str) -> None:  # noqa: F811
    transport = payments.ProviderTransport(max_connections=4)
    async with _client(slow_stub, transport) as http:
        for _ in range(3):
            with pytest.raises(payments.ProviderUnavailable, match="timed out"):
                await _charge(http, SLOW, timeout_s=0.1)
        assert transport.busy == [0]
        assert (await _charge(http, SUCCEEDS)).status == "succeeded"
    nowhere = payments.ProviderTransport(max_connections=4)
    async with _client("http://127.0.0.1:9", nowhere) as http:
        for _ in range(3):
            with pytest.raises(payments.ProviderUnavailable, match="transport error"):
                await _charge(http, SUCCEEDS)
        assert nowhere.busy == [0]


async def test_the_process_client_charges_through_the_pools(slow_stub: str) -> None:  # noqa: F811
    async with payments.provider_client(base_url=slow_stub, timeout_s=5.0, max_connections=100) as http:
        charges = await asyncio.gather(*(_charge(http, SUCCEEDS) for _ in range(50)))
        assert len({c.id for c in charges}) == 50

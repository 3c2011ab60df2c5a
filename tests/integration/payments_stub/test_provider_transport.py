"""core.keepalive.KeepAliveTransport (the payment provider's client) against the stub over
real HTTP: max_connections at once and no more, connections kept alive and reused, every
place given back whatever the answer (a timeout, a refused connection, a cancelled call),
a connection the server closed replaced, and httpx's errors and answers as httpx gives them."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from core import payments
from core.keepalive import KeepAliveTransport
from payments_stub.service import PM_SLOW as SLOW
from payments_stub.service import PM_SUCCEEDS as SUCCEEDS
from tests.integration.payments_stub.test_client import slow_stub  # noqa: F401 (a fixture)

SLOW_S = 0.6  # the slow card's delay in the slow_stub fixture


def _client(base_url: str, transport: KeepAliveTransport, timeout_s: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s)


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


async def test_max_connections_charges_run_at_once_and_no_more(slow_stub: str) -> None:  # noqa: F811
    transport = KeepAliveTransport(max_connections=10)
    async with _client(slow_stub, transport) as http:
        start = time.monotonic()
        done = await asyncio.gather(*(_charge(http, SLOW) for _ in range(10)))
        assert {c.status for c in done} == {"succeeded"}
        assert time.monotonic() - start < 2 * SLOW_S  # all ten at once
        assert transport.busy == 0 and transport.opened == 10

        # Control: twelve need a second round, since only ten connections may exist.
        start = time.monotonic()
        await asyncio.gather(*(_charge(http, SLOW) for _ in range(12)))
        assert time.monotonic() - start >= 2 * SLOW_S
        assert transport.busy == 0 and transport.opened == 10  # the same ten, kept alive


async def test_connections_are_kept_alive_and_reused(slow_stub: str) -> None:  # noqa: F811
    transport = KeepAliveTransport(max_connections=100)
    async with _client(slow_stub, transport) as http:
        for _ in range(30):
            await _charge(http, SUCCEEDS)
        assert transport.opened == 1
        charges = await asyncio.gather(*(_charge(http, SUCCEEDS) for _ in range(40)))
        assert len({c.id for c in charges}) == 40
        assert transport.opened <= 40 and transport.busy == 0


async def test_quick_charges_pass_slow_ones_holding_connections(slow_stub: str) -> None:  # noqa: F811
    transport = KeepAliveTransport(max_connections=8)
    async with _client(slow_stub, transport) as http:
        slow = [asyncio.create_task(_charge(http, SLOW)) for _ in range(6)]
        await asyncio.sleep(0.1)
        assert transport.busy == 6
        start = time.monotonic()
        quick = await asyncio.gather(*(_charge(http, SUCCEEDS) for _ in range(20)))
        assert time.monotonic() - start < SLOW_S / 2  # through the two free connections
        assert {c.status for c in quick} == {"succeeded"}
        assert {c.status for c in await asyncio.gather(*slow)} == {"succeeded"}
        assert transport.busy == 0


async def test_timeouts_refusals_and_cancels_give_their_place_back(slow_stub: str) -> None:  # noqa: F811
    transport = KeepAliveTransport(max_connections=2)
    async with _client(slow_stub, transport) as http:
        for _ in range(3):
            with pytest.raises(payments.ProviderUnavailable, match="timed out"):
                await _charge(http, SLOW, timeout_s=0.1)
        call = asyncio.create_task(_charge(http, SLOW))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert transport.busy == 0
        # The connections left mid-answer were closed, not reused: the next answers are theirs.
        charges = await asyncio.gather(*(_charge(http, SUCCEEDS) for _ in range(4)))
        assert {c.status for c in charges} == {"succeeded"} and len({c.id for c in charges}) == 4
    nowhere = KeepAliveTransport(max_connections=2)
    async with _client("http://127.0.0.1:9", nowhere) as http:
        for _ in range(3):
            with pytest.raises(payments.ProviderUnavailable, match="transport error"):
                await _charge(http, SUCCEEDS)
        assert nowhere.busy == 0


async def test_a_call_still_on_its_way_when_the_client_closes_closes_its_connection(
    slow_stub: str,  # noqa: F811
) -> None:
    transport = KeepAliveTransport(max_connections=2)
    http = _client(slow_stub, transport)
    slow = asyncio.create_task(_charge(http, SLOW))
    await asyncio.sleep(0.1)
    await transport.aclose()
    assert (await slow).status == "succeeded"  # the call in flight still gets its answer
    assert transport._idle == []  # and its connection is not kept for nobody
    await http.aclose()


async def test_a_full_pool_times_out_waiting(slow_stub: str) -> None:  # noqa: F811
    transport = KeepAliveTransport(max_connections=1)
    async with _client(slow_stub, transport) as http:
        slow = asyncio.create_task(_charge(http, SLOW))
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await http.get("/v1/charges", timeout=httpx.Timeout(5.0, pool=0.1))
        assert (await slow).status == "succeeded"
        assert transport.busy == 0


async def test_a_connection_the_server_closed_is_replaced(slow_stub: str) -> None:  # noqa: F811
    transport = KeepAliveTransport(max_connections=4)
    async with _client(slow_stub, transport) as http:
        await _charge(http, SUCCEEDS)
        # The server's answer asks to close: the connection is not kept.
        answer = await http.get("/v1/charges", headers={"Connection": "close"})
        assert answer.status_code == 200
        await asyncio.sleep(0.05)
        await _charge(http, SUCCEEDS)
        assert transport.opened == 2 and transport.busy == 0


async def test_answers_are_httpx_answers(slow_stub: str) -> None:  # noqa: F811
    transport = KeepAliveTransport(max_connections=4)
    async with _client(slow_stub, transport) as http:
        charge = await _charge(http, SUCCEEDS)
        found = await http.get("/v1/charges", params={"description": f"transport x {charge.id}"})
        assert found.status_code == 200 and found.json()["charges"] == []
        assert found.headers["content-type"].startswith("application/json")
        missing = await http.get(f"/v1/charges/{uuid.uuid4().hex}")
        assert missing.status_code == 404 and missing.json()["error"] == "charge_not_found"
        listed = await payments.find_charges(http, description=f"transport {charge.id}")
        assert listed == []


async def test_the_process_client_is_the_keepalive_one_for_http(slow_stub: str) -> None:  # noqa: F811
    async with payments.provider_client(base_url=slow_stub, timeout_s=5.0, max_connections=100) as http:
        charges = await asyncio.gather(*(_charge(http, SUCCEEDS) for _ in range(50)))
        assert len({c.id for c in charges}) == 50


async def test_an_https_provider_gets_httpx_own_transport() -> None:
    transport = KeepAliveTransport(max_connections=2)
    async with _client("https://127.0.0.1:9", transport) as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("/v1/charges")
        assert transport.busy == 0 and transport.opened == 0
    # The process's client does not use this transport for https:// (TLS is httpx's):
    # the same refused port answers with a connection error, not UnsupportedProtocol.
    async with payments.provider_client(
        base_url="https://127.0.0.1:9", timeout_s=1.0, max_connections=2
    ) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/v1/charges")

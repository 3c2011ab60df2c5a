"""The payment provider away: an order keeps its tickets and its place, the buyer and the
organizer are told, the circuit breaker spares the provider, and the order is rejected
only past its deadline."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from core.payments import CircuitBreaker
from core.resources import Resources
from reservations import keys
from reservations.orders.decisions import WaitForProvider
from reservations.orders.desk import OrderDesk
from tests.factories import make_customer, make_event, stock_counts
from tests.integration.reservations.orders.helpers import auth, post_order


class CountingDownProvider(httpx.AsyncBaseTransport):
    """A provider that is down: every request fails to connect, and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
async def down() -> AsyncIterator[tuple[httpx.AsyncClient, CountingDownProvider]]:
    transport = CountingDownProvider()
    async with httpx.AsyncClient(transport=transport, base_url="http://p") as http:
        yield http, transport


def _desk(
    res: Resources, http: httpx.AsyncClient, *, breaker: CircuitBreaker, **settings: float
) -> OrderDesk:
    quick = msgspec.structs.replace(res.settings, **settings)  # type: ignore[arg-type]
    return OrderDesk(dataclasses.replace(res, http=http, breaker=breaker, settings=quick), name="test-desk")


async def _accepted(res: Resources, client: httpx.AsyncClient) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=1)
    placed = (await post_order(client, customer, event_id)).json()
    return uuid.UUID(placed["id"]), event_id, customer


async def test_provider_down_keeps_the_order_queued_with_its_tickets_and_tells_buyer_and_organizer(
    res: Resources,
    client: httpx.AsyncClient,
    down: tuple[httpx.AsyncClient, CountingDownProvider],
) -> None:
    order_id, event_id, customer = await _accepted(res, client)
    desk = _desk(res, down[0], breaker=CircuitBreaker(failures=2, cooldown_s=60))
    with pytest.raises(WaitForProvider) as waited:
        await desk.decide_order(order_id=order_id, job_try=1)
    assert 0 < waited.value.delay_s <= res.settings.payments_deadline_s
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["IN_PROGRESS"] == 1  # the place is kept
    got = (await client.get(f"/api/orders/{order_id}", headers=auth(customer))).json()
    assert got["status"] == "queued"
    assert "payment provider is slow" in got["notice"]
    assert got["payment_deadline"] is not None
    admin = {"Authorization": f"Bearer {res.settings.admin_token}"}
    payments = (await client.get("/api/admin/jobs", headers=admin)).json()["payments"]
    assert payments["orders_waiting"] == 1
    assert payments["deadline_s"] == res.settings.payments_deadline_s
    assert payments["next_deadline"] == got["payment_deadline"]
    assert [(c["process"], c["state"]) for c in payments["circuits"]] == [("test-desk", "open")]


async def test_an_open_circuit_keeps_calls_from_the_provider(
    res: Resources,
    client: httpx.AsyncClient,
    down: tuple[httpx.AsyncClient, CountingDownProvider],
) -> None:
    order_id, _, _ = await _accepted(res, client)
    desk = _desk(res, down[0], breaker=CircuitBreaker(failures=1, cooldown_s=60))
    with pytest.raises(WaitForProvider):
        await desk.decide_order(order_id=order_id, job_try=1)
    calls = down[1].calls
    assert calls == 1  # opened at the first failure: no retries sent
    with pytest.raises(WaitForProvider) as again:
        await desk.decide_order(order_id=order_id, job_try=2)
    assert down[1].calls == calls
    assert again.value.delay_s > 1  # told to come back about when the probe may go


async def test_provider_back_before_the_deadline_confirms_with_one_charge(
    res: Resources,
    client: httpx.AsyncClient,
    down: tuple[httpx.AsyncClient, CountingDownProvider],
) -> None:
    order_id, event_id, customer = await _accepted(res, client)
    with pytest.raises(WaitForProvider):
        await _desk(res, down[0], breaker=CircuitBreaker()).decide_order(order_id=order_id, job_try=1)
    assert await OrderDesk(res).decide_order(order_id=order_id, job_try=2) == "confirmed"
    got = (await client.get(f"/api/orders/{order_id}", headers=auth(customer))).json()
    assert got["status"] == "confirmed" and "notice" not in got
    assert await res.redis.zcard(keys.orders_waiting_payment()) == 0
    r = await res.http.get("/v1/charges", params={"description": f"order {order_id}"})
    assert len(r.json()["charges"]) == 1
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == 1


async def test_past_its_deadline_the_order_is_rejected_and_its_tickets_go_back(
    res: Resources,
    client: httpx.AsyncClient,
    down: tuple[httpx.AsyncClient, CountingDownProvider],
) -> None:
    order_id, event_id, customer = await _accepted(res, client)
    desk = _desk(res, down[0], breaker=CircuitBreaker(), payments_deadline_s=0.0)
    assert await desk.decide_order(order_id=order_id, job_try=1) == "rejected"
    got = (await client.get(f"/api/orders/{order_id}", headers=auth(customer))).json()
    assert (got["status"], got["reason"]) == ("rejected", "payment_unavailable")
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["AVAILABLE"] == 1


async def test_a_provider_refusing_the_request_is_not_waited_for(
    res: Resources, client: httpx.AsyncClient
) -> None:
    """A 4xx is an answer: the circuit stays closed and the order does not wait."""
    order_id, _, _ = await _accepted(res, client)

    async def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "bad"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://p") as http:
        breaker = CircuitBreaker(failures=1)
        desk = _desk(res, http, breaker=breaker)
        with pytest.raises(Exception) as raised:
            await desk.decide_order(order_id=order_id, job_try=1)
    assert not isinstance(raised.value, WaitForProvider)
    assert breaker.state == "closed"


async def test_confirming_a_hold_with_the_circuit_open_is_502_with_retry_after_and_keeps_the_hold(
    res: Resources, client: httpx.AsyncClient
) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
        event_id = await make_event(conn, capacity=1)
    hold = await client.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth(customer))
    assert hold.status_code == 201, hold.text
    for _ in range(res.settings.payments_breaker_failures):
        res.breaker.failed()
    assert res.breaker.state == "open"
    r = await client.post(
        f"/api/holds/{hold.json()['id']}/confirm",
        json={"payment_method": "pm_card_visa"},
        headers={**auth(customer), "Idempotency-Key": "k1"},
    )
    assert r.status_code == 502, r.text
    assert r.json()["error"] == "payment_unavailable"
    assert int(r.headers["retry-after"]) >= 1
    got = await client.get(f"/api/holds/{hold.json()['id']}", headers=auth(customer))
    assert got.json()["status"] == "active"
    res.breaker.succeeded()
    again = await client.post(
        f"/api/holds/{hold.json()['id']}/confirm",
        json={"payment_method": "pm_card_visa"},
        headers={**auth(customer), "Idempotency-Key": "k1"},
    )
    assert again.status_code == 200, again.text

"""`POST /api/orders` through its thin ASGI route (reservations/orders/fast_route.py) and
through Litestar's route answer the same bytes: status, body and every header, for every
bad input and every outcome of the gate. Each case is sent as raw ASGI messages to both,
on the real servers; the thin route's hand-overs to Litestar are recorded, so each case
also says who answered it."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest

from core import auth as core_auth
from core.config import get_settings
from core.resources import Resources
from reservations import keys
from reservations.orders import fast_route
from tests.factories import make_customer, make_event

PM = "pm_card_visa"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def asgi_call(
    app: Callable[[Any, Any, Any], Awaitable[None]],
    *,
    headers: list[tuple[bytes, bytes]],
    body_chunks: list[bytes],
    query: bytes = b"",
    client: str = "10.1.2.3",
) -> Answer:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/orders",
        "raw_path": b"/api/orders",
        "query_string": query,
        "root_path": "",
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"testserver"), *headers],
    }
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(body_chunks) - 1}
        for i, c in enumerate(body_chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], [(bytes(k), bytes(v)) for k, v in start["headers"]], body


class Both:
    """Sends a request to the thin route and to Litestar's route, and compares."""

    def __init__(self, app: Any, res: Resources) -> None:
        self.app = app
        self.res = res
        self.handed_over = 0

    async def _litestar(self, scope: Any, receive: Any, send: Any) -> None:
        await type(self.app).__mro__[1].__call__(self.app, scope, receive, send)  # Litestar's own

    async def _fast(self, scope: Any, receive: Any, send: Any) -> None:
        async def fallback(s: Any, r: Any, se: Any) -> None:
            self.handed_over += 1
            await self._litestar(s, r, se)

        await fast_route.serve(
            self.res, fallback, scope, receive, send, add_headers=self.app.add_security_headers
        )

    async def fast(self, **request: Any) -> tuple[Answer, bool]:
        before = self.handed_over
        answer = await asgi_call(self._fast, **request)
        return answer, self.handed_over > before

    async def litestar(self, **request: Any) -> Answer:
        return await asgi_call(self._litestar, **request)

    async def same(self, *, handled: bool, **request: Any) -> Answer:
        """Both answer this request identically; `handled`: the thin route answered it."""
        (fast, handed_over) = await self.fast(**request)
        slow = await self.litestar(**request)
        assert fast == slow
        assert handed_over is not handled
        return fast


@pytest.fixture
async def both(client: httpx.AsyncClient, res: Resources, _app: Any) -> AsyncIterator[Both]:
    """After `client`: the app's lifespan runs (its state holds the resources)."""
    yield Both(_app, res)


def headers_for(
    token: str | None,
    *,
    key: bytes | None = b"key-1",
    content_type: bytes | None = b"application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> list[tuple[bytes, bytes]]:
    h = [(b"x-request-id", b"req-fixed-1")]
    if token is not None:
        h.append((b"authorization", f"Bearer {token}".encode()))
    if key is not None:
        h.append((b"idempotency-key", key))
    if content_type is not None:
        h.append((b"content-type", content_type))
    return h + (extra or [])


def order(event_id: uuid.UUID, **fields: Any) -> bytes:
    return msgspec.json.encode({"event_id": str(event_id), "payment_method": PM, "quantity": 1, **fields})


async def customer_and_event(res: Resources, **event: Any) -> tuple[str, uuid.UUID]:
    async with res.pool.acquire() as conn:
        customer_id = await make_customer(conn)
        event_id = await make_event(conn, **event)
    return core_auth.issue_customer_token(customer_id), event_id


async def test_bad_inputs_answer_the_same_bytes(both: Both, res: Resources) -> None:
    token, event_id = await customer_and_event(res)
    good = order(event_id)
    expired = core_auth.encode(
        {
            "sub": str(uuid.uuid4()),
            "typ": "customer",
            "iat": int(time.time()) - 99,
            "exp": int(time.time()) - 9,
        }
    )
    cases: list[tuple[str, dict[str, Any]]] = [
        ("no token", {"headers": headers_for(None), "body_chunks": [good]}),
        ("empty bearer", {"headers": headers_for(""), "body_chunks": [good]}),
        ("basic auth", {"headers": [(b"authorization", b"Basic YTpi")], "body_chunks": [good]}),
        ("bad token", {"headers": headers_for("not.a.token"), "body_chunks": [good]}),
        ("expired token", {"headers": headers_for(expired), "body_chunks": [good]}),
        ("organizer token", {"headers": headers_for(get_settings().admin_token), "body_chunks": [good]}),
        ("no key", {"headers": headers_for(token, key=None), "body_chunks": [good]}),
        ("empty key", {"headers": headers_for(token, key=b""), "body_chunks": [good]}),
        ("key too long", {"headers": headers_for(token, key=b"k" * 256), "body_chunks": [good]}),
        ("key with a space", {"headers": headers_for(token, key=b"a b"), "body_chunks": [good]}),
        ("key not ascii", {"headers": headers_for(token, key="clé".encode()), "body_chunks": [good]}),
        ("no content type", {"headers": headers_for(token, content_type=None), "body_chunks": [good]}),
        ("text/plain", {"headers": headers_for(token, content_type=b"text/plain"), "body_chunks": [good]}),
        (
            "form",
            {
                "headers": headers_for(token, content_type=b"application/x-www-form-urlencoded"),
                "body_chunks": [b"event_id=1"],
            },
        ),
        ("empty body", {"headers": headers_for(token), "body_chunks": [b""]}),
        ("blank body", {"headers": headers_for(token), "body_chunks": [b"  \n"]}),
        ("not json", {"headers": headers_for(token), "body_chunks": [b"{event_id:"]}),
        ("json array", {"headers": headers_for(token), "body_chunks": [b"[1, 2]"]}),
        ("json null", {"headers": headers_for(token), "body_chunks": [b"null"]}),
        (
            "no event_id",
            {"headers": headers_for(token), "body_chunks": [b'{"payment_method": "pm_card_visa"}']},
        ),
        ("unknown field", {"headers": headers_for(token), "body_chunks": [order(event_id, price=1)]}),
        (
            "event_id not a uuid",
            {"headers": headers_for(token), "body_chunks": [good.replace(str(event_id).encode(), b"x")]},
        ),
        ("quantity 0", {"headers": headers_for(token), "body_chunks": [order(event_id, quantity=0)]}),
        ("quantity 11", {"headers": headers_for(token), "body_chunks": [order(event_id, quantity=11)]}),
        ("quantity text", {"headers": headers_for(token), "body_chunks": [order(event_id, quantity="1")]}),
        ("quantity bool", {"headers": headers_for(token), "body_chunks": [order(event_id, quantity=True)]}),
        (
            "method short",
            {"headers": headers_for(token), "body_chunks": [order(event_id, payment_method="pm_")]},
        ),
        (
            "a card number",
            {
                "headers": headers_for(token),
                "body_chunks": [order(event_id, payment_method="4242424242424242")],
            },
        ),
        (
            "card_number field",
            {"headers": headers_for(token), "body_chunks": [order(event_id, card_number="4242424242424242")]},
        ),
        (
            "method letters",
            {"headers": headers_for(token), "body_chunks": [order(event_id, payment_method="x" * 16)]},
        ),
        (
            "method NUL",
            {"headers": headers_for(token), "body_chunks": [order(event_id, payment_method="pm_card\x00")]},
        ),
        ("bad utf-8", {"headers": headers_for(token), "body_chunks": [b'{"event_id": "\xff"}']}),
        (
            "over 64 KiB",
            {"headers": headers_for(token), "body_chunks": [b" " * 40_000, b" " * 40_000 + good]},
        ),
        ("query string", {"headers": headers_for(token, key=b"q-1"), "body_chunks": [good], "query": b"x=1"}),
        (
            "two keys",
            {"headers": headers_for(token, extra=[(b"idempotency-key", b"other")]), "body_chunks": [good]},
        ),
    ]
    for name, request in cases:
        status, _, body = await both.same(handled=False, **request)
        assert 400 <= status < 500 or name in ("query string", "two keys"), (name, status, body)
        if status == 400:
            assert msgspec.json.decode(body)["error"] in ("invalid_input", "idempotency_key_required"), name
    # None of them wrote anything.
    assert await res.redis.xlen("ticket_orders") <= 2  # the last two may be accepted, by Litestar


async def test_gate_outcomes_answer_the_same_bytes(both: Both, res: Resources) -> None:
    token, event_id = await customer_and_event(res, capacity=1, max_per_customer=1)
    other, _ = await customer_and_event(res)
    good = order(event_id)

    def req(tok: str, key: bytes, body: bytes = good, **h: Any) -> dict[str, Any]:
        return {"headers": headers_for(tok, key=key, **h), "body_chunks": [body]}

    # A fresh order on each side: the same answer but for the new order's id.
    (fast, handed_over) = await both.fast(**req(token, b"first"))
    assert not handed_over and fast[0] == 202
    slow = await both.litestar(**req(other, b"first-other"))

    def without_id(answer: Answer) -> Answer:
        status, headers, body = answer
        order_id = msgspec.json.decode(body)["id"].encode()
        return status, [(k, v.replace(order_id, b"ID")) for k, v in headers], body.replace(order_id, b"ID")

    assert without_id(fast) == without_id(slow)
    # The same key and body again: the same 202, byte for byte, from both.
    assert await both.same(handled=True, **req(token, b"first")) == fast
    # Refusals of the gate (the thin route decides, Litestar's route replays the key).
    sold_out_event = (await customer_and_event(res))[1]
    await res.redis.set(keys.sold_out(sold_out_event), b"1")
    refusals = [
        ((409, "sold_out"), req(other, b"sold-out", order(sold_out_event))),
        ((409, "limit_reached"), req(token, b"limit", order(event_id, quantity=1))),
        ((422, "idempotency_key_reused"), req(token, b"first", order(event_id, quantity=2))),
        ((404, "event_not_found"), req(token, b"unknown", order(uuid.uuid4()))),
    ]
    for expected, request in refusals:
        status, _, body = await both.same(handled=True, **request)
        assert (status, msgspec.json.decode(body)["error"]) == expected, body
    # Accepted in other shapes the route understands.
    _, event3 = await customer_and_event(res, capacity=20, max_per_customer=10)
    body3 = order(event3).replace(b",", b", ")
    accepted = [
        req(token, b"charset", body3, content_type=b"application/json; charset=utf-8"),
        req(token, b"plus-json", body3, content_type=b"application/vnd.order+json"),
        {**req(token, b"chunks"), "body_chunks": [body3[:10], body3[10:]]},
        req(token, b"gzip", body3, extra=[(b"accept-encoding", b"gzip")]),
        {"headers": req(token, b"no-request-id", body3)["headers"][1:], "body_chunks": [body3]},
    ]
    for request in accepted[:-1]:
        status, _, body = await both.same(handled=True, **request)
        assert (status, msgspec.json.decode(body)["status"]) == (202, "queued"), body
    # Without an X-Request-ID each side makes its own; all else the same.
    (fast_answer, _) = await both.fast(**accepted[-1])
    slow_answer = await both.litestar(**accepted[-1])
    ids = [dict(a[1])[b"x-request-id"] for a in (fast_answer, slow_answer)]
    assert len(ids[0]) == len(ids[1]) == 32 and ids[0] != ids[1]
    strip = [(a[0], [h for h in a[1] if h[0] != b"x-request-id"], a[2]) for a in (fast_answer, slow_answer)]
    assert strip[0] == strip[1]
    async with res.pool.acquire() as conn:
        later = await make_event(conn, sales_open_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        room = await make_event(conn, waiting_room=True)
    status, _, body = await both.same(handled=True, **req(token, b"later", order(later)))
    assert (status, msgspec.json.decode(body)["error"]) == (409, "not_on_sale")
    status, _, body = await both.same(handled=True, **req(token, b"room", order(room)))
    assert (status, msgspec.json.decode(body)["error"]) == (403, "admission_required")


async def test_rate_limited_answers_the_same_bytes(
    both: Both, res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, event_id = await customer_and_event(res, capacity=50, max_per_customer=50)
    monkeypatch.setenv("ORDER_LIMIT_PER_CUSTOMER", "2")
    get_settings.cache_clear()
    try:
        for key in (b"r1", b"r2"):
            (answer, _) = await both.fast(headers=headers_for(token, key=key), body_chunks=[order(event_id)])
            assert answer[0] == 202
        status, headers, body = await both.same(
            handled=True, headers=headers_for(token, key=b"r3"), body_chunks=[order(event_id)]
        )
    finally:
        get_settings.cache_clear()
    assert (status, msgspec.json.decode(body)["error"]) == (429, "rate_limited")
    assert any(k == b"retry-after" for k, _ in headers)


async def test_the_app_sends_orders_through_the_thin_route(
    client: httpx.AsyncClient, res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = fast_route.serve

    async def spy(*args: Any, **kwargs: Any) -> None:
        calls.append(args[2]["path"])
        await real(*args, **kwargs)

    monkeypatch.setattr(fast_route, "serve", spy)
    token, event_id = await customer_and_event(res)
    r = await client.post(
        "/api/orders",
        content=order(event_id),
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": "via-app",
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 202, r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert (
        await client.get(f"/api/orders/{r.json()['id']}", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    assert calls == ["/api/orders"]  # the GET went to Litestar alone

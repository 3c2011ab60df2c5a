"""`POST /api/orders` as a thin ASGI route in front of Litestar (docs/orders.md, "The
accept path"; ADR 0014).

The flash sale's hottest request. In its profile Litestar's layers — routing, the
middleware stack, the signature model, the DTO, the response object — cost as much as the
order gate itself. This route answers the requests it fully understands: a valid customer
bearer token, a JSON body that decodes to `OrderCreate` exactly as `StrictBody` decodes it,
a valid Idempotency-Key, no query string and no repeated header. It makes the same service
call as the Litestar route (`service.place_order`) and answers with the same status, body
and headers: the precomputed refusal bodies of routes.py, the catalogue error body of
`core.errors`, `X-Request-ID`, the security headers and the same request metric.

Anything else — no token, a bad or organizer token, a missing or malformed key, a body
that does not decode, over 64 KiB, another content type — is handed, body included, to
Litestar, which answers it as it always did. So every refusal of bad input still comes
from one place, and the OpenAPI description stays the Litestar route's (routes.py, which
still serves the handed-over requests). tests/integration/reservations/orders/
test_fast_route.py sends every case through both and compares the bytes.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from core.addresses import client_address_of, trusted_networks
from core.auth import principal_from_token
from core.config import get_settings
from core.errors import AppError, ErrorBody
from core.logs import request_id
from core.ops import REQUEST_LATENCY
from core.resources import Resources
from core.schemas import decode_json, is_json
from reservations.orders import service as orders
from reservations.orders.routes import REFUSAL_BODIES, accepted_body
from reservations.orders.schemas import OrderCreate

log = logging.getLogger("crowdpass.orders.fast_route")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

ORDER_PATH = "/api/orders"
PATH_TEMPLATE = "/api/orders"  # the Litestar route's, as the request metric names it
MAX_BODY = 64 * 1024  # app.py's request_max_body_size: past it, Litestar answers 413
_JSON = (b"content-type", b"application/json")
_INTERNAL = msgspec.json.encode(ErrorBody(error="internal_error", detail="Something went wrong on our side."))
_error_enc = msgspec.json.Encoder()


def handles(scope: Scope) -> bool:
    """Whether a request is this route's to look at (it may still hand it over)."""
    return bool(scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == ORDER_PATH)


class _Request(msgspec.Struct):
    """What the route reads from the scope's headers; `repeated` when one came twice."""

    authorization: bytes | None = None
    content_type: bytes | None = None
    idempotency_key: bytes | None = None
    request_id: bytes | None = None
    forwarded_for: list[str] = msgspec.field(default_factory=list)
    repeated: bool = False


def _read_headers(headers: list[tuple[bytes, bytes]]) -> _Request:
    r = _Request()
    for name, value in headers:
        if name == b"authorization":
            r.repeated |= r.authorization is not None
            r.authorization = value
        elif name == b"content-type":
            r.repeated |= r.content_type is not None
            r.content_type = value
        elif name == b"idempotency-key":
            r.repeated |= r.idempotency_key is not None
            r.idempotency_key = value
        elif name == b"x-request-id":
            r.request_id = r.request_id or value  # the first, as core.logs reads it
        elif name == b"x-forwarded-for":
            r.forwarded_for.append(value.decode("latin-1"))
    return r


async def _read_body(receive: Receive) -> tuple[bytes, bool, bool]:
    """(body, more_body, disconnected): the whole body, or its first MAX_BODY + 1 bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False, True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if not more or size > MAX_BODY:
            return b"".join(chunks), more, False


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """`receive` with the part of the body already read given back first."""
    given = False

    async def replaying() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replaying


class _HandOver(Exception):
    """Litestar answers this request."""


def _understood(scope: Scope, r: _Request, body: bytes) -> tuple[uuid.UUID, OrderCreate, str]:
    """(customer, order, key) of a request this route answers, else _HandOver."""
    if r.repeated or scope.get("query_string") or len(body) > MAX_BODY:
        raise _HandOver
    header = r.authorization.decode("latin-1") if r.authorization is not None else ""
    if header[:7].lower() != "bearer ":
        raise _HandOver
    token = header[7:].strip()
    if not token or r.content_type is None or not is_json(r.content_type.decode("latin-1")):
        raise _HandOver
    try:
        principal = principal_from_token(token)
        key = orders.check_idempotency_key(
            None if r.idempotency_key is None else r.idempotency_key.decode("latin-1")
        )
        data = decode_json(body, OrderCreate)
    except Exception:  # Unauthorized, IdempotencyKeyRequired, BadRequest, …: Litestar answers
        raise _HandOver from None
    if principal.customer_id is None:  # the organizer: Litestar's 403
        raise _HandOver
    return principal.customer_id, data, key


async def serve(
    resources: Resources,
    fallback: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    add_headers: Callable[[Message, Scope], Awaitable[None]],
) -> None:
    """Answer `POST /api/orders`, or hand it to `fallback` (the Litestar app)."""
    start = time.perf_counter()
    r = _read_headers(scope["headers"])
    body, more, gone = await _read_body(receive)
    if gone:
        return
    try:
        customer_id, data, key = _understood(scope, r, body)
    except _HandOver:
        await fallback(scope, _replay(body, more, receive), send)
        return
    rid = r.request_id.decode("latin-1")[:64] if r.request_id else uuid.uuid4().hex
    token = request_id.set(rid)
    extra: list[tuple[bytes, bytes]] = []
    try:
        peer = scope["client"][0] if scope.get("client") else None
        networks = trusted_networks(get_settings().trusted_proxies)
        placed = await orders.place_order(
            resources,
            customer_id=customer_id,
            data=data,
            idempotency_key=key,
            request_id=rid,
            client_ip=client_address_of(peer, r.forwarded_for if networks else [], networks),
        )
        if placed.order is not None:
            status, payload = 202, accepted_body(placed.order)
            extra = [(b"location", f"/api/orders/{placed.order.id}".encode())]
        else:
            assert placed.refusal is not None
            status, payload = placed.refusal.status_code, REFUSAL_BODIES[placed.refusal.code]
    except AppError as exc:
        status = exc.status_code
        payload = _error_enc.encode(ErrorBody(error=exc.code, detail=exc.detail, field=exc.field))
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
    except Exception:
        log.exception("unhandled error on POST %s", ORDER_PATH)
        status, payload = 500, _INTERNAL
    finally:
        request_id.reset(token)
    headers = [
        *extra,
        _JSON,
        (b"content-length", str(len(payload)).encode()),
        (b"x-request-id", rid.encode()),
    ]
    start_message: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await add_headers(start_message, scope)
    await send(start_message)
    await send({"type": "http.response.body", "body": payload})
    _latency(status).observe(time.perf_counter() - start)


@functools.cache
def _latency(status: int) -> Any:
    """The request metric's series of one status (looked up once per status)."""
    return REQUEST_LATENCY.labels("POST", PATH_TEMPLATE, str(status))

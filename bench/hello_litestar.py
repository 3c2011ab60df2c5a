"""The framework floor: the order route's shape in Litestar, with nothing of CrowdPass.

`python -m uvicorn --factory bench.hello_litestar:create_app ...`, served and driven like
the ceiling (`bench/hello.py`). One `POST /api/orders` that decodes the same body into a
msgspec Struct and answers 202 with a small JSON body: routing, body decoding and the
response, which every Litestar route pays before its own work. The flash sale reports its
accept rate against it too, so the gap to the raw ceiling splits into what the framework
takes and what the order gate takes.
"""

from __future__ import annotations

import uuid

import msgspec
from litestar import Litestar, MediaType, Response, get, post

BODY = b'{"status":"queued"}'


class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
    event_id: uuid.UUID
    card_number: str
    quantity: int = 1


@post("/api/orders", status_code=202)
async def place(data: OrderIn) -> Response[bytes]:
    return Response(BODY, status_code=202, media_type=MediaType.JSON)


@get(["/", "/health"], sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    return Litestar(route_handlers=[place, health], openapi_config=None)

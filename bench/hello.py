"""The ceiling: a raw ASGI "hello" served exactly like the API.

`uvicorn --factory bench.hello:create_app` with the API's flags, on the API's core, sent
the scenario's own requests by the same driver. It reads the whole request body (as the
API must) and answers a small JSON body with a Content-Length, so a rate divided by its
rate says how much of the machine's HTTP capacity the application keeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
BODY = b'{"hello":"world"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "http":
        while (await receive()).get("more_body", False):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})


def create_app() -> Callable[[Message, Receive, Send], Awaitable[None]]:
    return app

"""WebSocket URLs with a one-use ticket, asked of a running API as a browser asks it."""

from __future__ import annotations

import httpx


async def ws_ticket(base: str, token: str, *, visitor_token: str | None = None) -> str:
    """A ticket from `POST {base}/api/ws-tickets`, with `token` in the Authorization header."""
    headers = {"Authorization": f"Bearer {token}"}
    if visitor_token is not None:
        headers["Visitor-Token"] = visitor_token
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.post("/api/ws-tickets", headers=headers)
    assert r.status_code == 201, r.text
    ticket: str = r.json()["ticket"]
    return ticket


async def ws_url(base: str, path: str, token: str) -> str:
    """`ws://…{path}?ticket=…` on the API at `base` (http://…), for the holder of `token`."""
    ticket = await ws_ticket(base, token)
    return f"{base.replace('http', 'ws', 1)}{path}?ticket={ticket}"

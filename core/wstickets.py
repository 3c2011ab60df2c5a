"""One-use tickets for WebSocket handshakes.

A browser cannot set headers on a WebSocket, and a token in its URL ends up in access logs,
proxies and histories, where a customer token stays valid for days. So a client first
asks `POST /api/ws-tickets` with its token in the `Authorization` header (a customer token,
or a waiting-room visitor token; a customer may add `Visitor-Token`), and opens the socket
with `?ticket=<ticket>`: a random string, kept in Redis for `WS_TICKET_TTL_S` (30 s) and
taken (GETDEL) by the first handshake that shows it. An old URL in a log opens nothing. The
organizer token gets no ticket (403): no WebSocket serves the organizer.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from core.auth import bearer, principal_from_token, visitor_from_token
from core.errors import Unauthorized

VISITOR_HEADER = "Visitor-Token"
_PREFIX = "cp:ws-ticket:"


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who a ticket was issued to: a customer, a visitor, or a customer with their visitor."""

    customer_id: uuid.UUID | None = None
    visitor_id: uuid.UUID | None = None


class BadTicket(Unauthorized):
    code = "ws_ticket_invalid"
    default_detail = "Unknown, used or expired WebSocket ticket: ask POST /api/ws-tickets for another."


def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    """The caller of a request by its `Authorization` header: 401 for a missing, bad or
    expired token, 403 for the organizer's; a customer may add their visitor's token as
    `Visitor-Token`."""
    token = bearer(connection)
    if not token:
        raise Unauthorized()
    try:
        principal = principal_from_token(token)
    except Unauthorized:
        return Caller(visitor_id=visitor_from_token(token))
    customer_id = principal.require_customer()
    header = connection.headers.get(VISITOR_HEADER)
    return Caller(customer_id=customer_id, visitor_id=visitor_from_token(header) if header else None)


def ticket_key(ticket: str) -> str:
    return _PREFIX + ticket


async def issue_ws_ticket(redis: Redis, *, caller: Caller, ttl_s: int) -> str:
    ticket = secrets.token_urlsafe(24)
    await redis.set(ticket_key(ticket), msgspec.json.encode(caller), ex=max(ttl_s, 1))
    return ticket


async def redeem_ws_ticket(redis: Redis, ticket: str | None) -> Caller:
    """The caller a ticket was issued to; the ticket is gone afterwards. BadTicket (401)
    when it is missing, unknown, used or expired."""
    if not ticket or len(ticket) > 64:
        raise BadTicket()
    raw = await redis.getdel(ticket_key(ticket))
    if raw is None:
        raise BadTicket()
    return msgspec.json.decode(raw, type=Caller)

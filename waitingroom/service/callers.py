"""Who calls the queue endpoints: a customer (customer token), an anonymous visitor
(visitor token, API.md "Waiting room"), or — only to join or fetch a challenge — a
newcomer with no token, who becomes a visitor with a fresh id."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar.connection import ASGIConnection

from core.auth import bearer, issue_visitor_token
from core.wstickets import caller_of


class QueueCaller(msgspec.Struct, frozen=True, kw_only=True):
    customer_id: uuid.UUID | None = None
    visitor_id: uuid.UUID | None = None
    new_visitor: bool = False  # no token came: a visitor token is minted for the answer

    def visitor_token(self) -> str | None:
        """The token to hand back: only to a newcomer."""
        return issue_visitor_token(self.visitor_id) if self.new_visitor and self.visitor_id else None


def queue_caller(connection: ASGIConnection[Any, Any, Any, Any], *, newcomer_ok: bool = False) -> QueueCaller:
    """The caller of a queue endpoint. 401 for a bad or missing token (unless `newcomer_ok`),
    403 for the organizer token; a customer may add their visitor's token as `Visitor-Token`."""
    if newcomer_ok and not bearer(connection):
        return QueueCaller(visitor_id=uuid.uuid4(), new_visitor=True)
    caller = caller_of(connection)
    return QueueCaller(customer_id=caller.customer_id, visitor_id=caller.visitor_id)

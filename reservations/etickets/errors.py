"""Errors of e-tickets (docs/errors.md)."""

from __future__ import annotations

from core.errors import NotFound


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    default_detail = "No e-ticket with this id."

"""Every Redis key and channel name of the domain. One event's keys share the hash tag
`{event_id}` so that a Redis Cluster keeps them in one slot."""

from __future__ import annotations

from uuid import UUID


def stock(event_id: UUID | str) -> str:
    """Cached stock counters of an event (hash: capacity, sold, held, available, status)."""
    return f"cp:stock:{{{event_id}}}"


def event_live_channel(event_id: UUID | str) -> str:
    """Channel of `/api/events/{id}/live`: stock counters and purchases."""
    return f"event.{event_id}.live"


def customer_channel(customer_id: UUID | str) -> str:
    """Channel of `/api/ws`: a customer's own orders and holds."""
    return f"customer.{customer_id}"


def confirm_idempotency(hold_id: UUID | str, key: str) -> str:
    return f"cp:idem:confirm:{hold_id}:{key}"

"""What reservations lets the packages above it plug in (`app.py` and the workers do it at
startup; reservations never imports them):

- the admission check a hold must pass (`AdmissionCheck`): the waiting room's, for events
  sold through a queue; without one every customer may hold;
- listeners told after an event's stock changed (`on_stock_change`): the waiting room
  admits the next visitors when tickets come back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable
from uuid import UUID

from arq.connections import ArqRedis

from core.db import Connection


@runtime_checkable  # Litestar checks a dependency's value against its annotation
class AdmissionCheck(Protocol):
    """Raise a catalogue error (403 `admission_required`) when this customer may not hold
    tickets of this event now; return when they may. `token` is the Admission-Token header."""

    async def __call__(
        self, conn: Connection, redis: ArqRedis, *, event_id: UUID, customer_id: UUID, token: str | None
    ) -> None: ...


async def admit_everyone(
    conn: Connection, redis: ArqRedis, *, event_id: UUID, customer_id: UUID, token: str | None
) -> None:
    """The check when nothing is plugged in: every customer may hold."""


StockListener = Callable[[ArqRedis, UUID], Awaitable[None]]
_stock_listeners: list[StockListener] = []


def on_stock_change(listener: StockListener) -> None:
    """Call `listener(redis, event_id)` after every committed change of an event's stock.
    Adding the same listener twice keeps one."""
    if listener not in _stock_listeners:
        _stock_listeners.append(listener)


async def stock_changed(redis: ArqRedis, event_id: UUID) -> None:
    for listener in _stock_listeners:
        await listener(redis, event_id)

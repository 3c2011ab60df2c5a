"""What the waiting room reads and keeps: its queries, its Lua scripts, the event's
settings, Redis's clock and the lottery seed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
from redis.asyncio import Redis

from core.db import Connection, queries_beside
from core.redis import Scripts
from reservations.events import service as events
from reservations.events.schemas import Event, WaitingRoom, WaitingRoomConfig
from waitingroom import keys
from waitingroom.errors import EventNotFound, NoWaitingRoom
from waitingroom.service import lottery

_ROOT = Path(__file__).resolve().parent.parent
Q = queries_beside(str(_ROOT / "queries.sql"))
S = Scripts(_ROOT / "lua")

PREQUEUE_OFFSET = 2**52  # scores below it are pre-queue places


class RoomSettings(msgspec.Struct, frozen=True, kw_only=True):
    event_id: UUID
    waiting_room: bool
    admission_factor: float
    max_admit_per_s: int
    prequeue: str
    paused: bool
    closed: bool
    sales_open_at: dt.datetime | None
    max_per_customer: int

    @property
    def open_at_ms(self) -> int:
        """Opening in ms since the epoch; 0 when the event has no opening time."""
        return 0 if self.sales_open_at is None else int(self.sales_open_at.timestamp() * 1000)

    def is_open(self, now_ms: int) -> bool:
        return now_ms >= self.open_at_ms

    def has_lottery(self) -> bool:
        return self.prequeue == "lottery" and self.sales_open_at is not None


_DEFAULTS = WaitingRoomConfig()


def room_settings(event: Event, room: Any | None) -> RoomSettings:
    """An event's facts (from reservations) with its room's row (None: no room kept)."""
    return RoomSettings(
        event_id=event.id,
        waiting_room=event.waiting_room and room is not None,
        admission_factor=room["admission_factor"] if room else _DEFAULTS.admission_factor,
        max_admit_per_s=room["max_admit_per_s"] if room else _DEFAULTS.max_admit_per_s,
        prequeue=room["prequeue"] if room else _DEFAULTS.prequeue,
        paused=room["paused"] if room else False,
        closed=event.closed,
        sales_open_at=event.sales_open_at,
        max_per_customer=event.max_per_customer,
    )


class RoomStore:
    """The waiting room's table, as reservations' `WaitingRoomStore`."""

    async def create(self, conn: Connection, *, event_id: UUID, config: WaitingRoomConfig) -> None:
        await conn.execute(
            Q.insert_waiting_room, event_id, config.admission_factor, config.max_admit_per_s, config.prequeue
        )

    async def read(self, conn: Connection, *, event_ids: list[UUID]) -> dict[UUID, WaitingRoom]:
        if not event_ids:
            return {}
        return {
            r["event_id"]: WaitingRoom(
                enabled=True,
                admission_factor=r["admission_factor"],
                prequeue=r["prequeue"],
                max_admit_per_s=r["max_admit_per_s"],
                paused=r["paused"],
            )
            for r in await conn.fetch(Q.list_waiting_rooms, event_ids)
        }


async def find_settings(conn: Connection, *, event_id: UUID) -> RoomSettings | None:
    """The event's room settings; None for an unknown event."""
    try:
        event = await events.get_event(conn, event_id=event_id)
    except EventNotFound:
        return None
    room = await conn.fetchrow(Q.get_waiting_room, event_id) if event.waiting_room else None
    return room_settings(event, room)


async def load_room(conn: Connection, *, event_id: UUID) -> RoomSettings:
    """The settings of an event with a waiting room; 404 unknown event, 409 no waiting room."""
    settings = await find_settings(conn, event_id=event_id)
    if settings is None:
        raise EventNotFound()
    if not settings.waiting_room:
        raise NoWaitingRoom()
    return settings


async def redis_now_ms(redis: Redis) -> int:
    """Redis's clock: the one every API instance, worker and Lua script agrees on."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def derive_state(settings: RoomSettings, *, now_ms: int, recorded: str) -> str:
    """The room's state: closed and scheduled from the event, sold out from the last tick."""
    if settings.closed:
        return "closed"
    if not settings.is_open(now_ms):
        return "scheduled"
    if recorded == "sold_out":
        return "sold_out"
    if settings.paused:
        return "paused"
    return "open"


async def lottery_seed(redis: Redis, settings: RoomSettings, *, now_ms: int) -> str | None:
    """The event's seed: created (once, SET NX) while the pre-queue is open, read after."""
    if not settings.has_lottery():
        return None
    key = keys.seed(settings.event_id)
    if not settings.is_open(now_ms):
        await redis.set(key, lottery.new_seed(), nx=True)
    value = await redis.get(key)
    return None if value is None else text(value)

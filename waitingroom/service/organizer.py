"""The organizer's view and controls, and the public lottery record."""

from __future__ import annotations

from uuid import UUID

import msgspec
from redis.asyncio import Redis

from core.db import Connection
from reservations.inventory.stock import read_stock
from waitingroom import keys
from waitingroom.errors import NoWaitingRoom
from waitingroom.schemas import LotteryDraws, LotteryInfo, WaitingRoomPatch, WaitingRoomStats
from waitingroom.service import lottery
from waitingroom.service.admission import admission_limit, request_advance, transit_window_ms
from waitingroom.service.queue import pow_difficulty
from waitingroom.service.store import (
    Q,
    RoomSettings,
    derive_state,
    load_room,
    lottery_seed,
    redis_now_ms,
    text,
)


async def _stats(conn: Connection, redis: Redis, settings: RoomSettings) -> WaitingRoomStats:
    event_id = settings.event_id
    stock = await read_stock(conn, event_id=event_id)
    now_ms = await redis_now_ms(redis)
    seed = await lottery_seed(redis, settings, now_ms=now_ms)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(keys.queue(event_id))
        pipe.zcount(keys.admitted(event_id), f"({now_ms}", "+inf")
        pipe.zcount(keys.in_transit(event_id), f"({now_ms - transit_window_ms()}", "+inf")
        pipe.hmget(keys.meta(event_id), ["served", "state", "rate"])
        pipe.zcard(keys.draws(event_id))
        waiting, outstanding, transit, meta, participants = await pipe.execute()
    served, recorded, rate = (text(v) if v is not None else None for v in meta)
    revealed = settings.is_open(now_ms)
    return WaitingRoomStats(
        event_id=event_id,
        state=derive_state(settings, now_ms=now_ms, recorded=recorded or ""),  # type: ignore[arg-type]
        paused=settings.paused,
        admission_factor=settings.admission_factor,
        max_admit_per_s=settings.max_admit_per_s,
        prequeue=settings.prequeue,  # type: ignore[arg-type]
        sales_open_at=settings.sales_open_at,
        waiting=int(waiting),
        admitted_outstanding=int(outstanding),
        admissions_in_transit=int(transit),
        admitted_total=int(served or 0),
        rate=float(rate or 0),
        capacity=stock.capacity,
        sold=stock.sold,
        held=stock.held,
        available=stock.available,
        admission_limit=admission_limit(left=stock.selling_now()[0], factor=settings.admission_factor),
        pow_difficulty=await pow_difficulty(redis, event_id=event_id),
        lottery=None
        if seed is None
        else LotteryInfo(
            commitment=lottery.commitment(seed),
            seed=seed if revealed else None,
            revealed=revealed,
            participants=int(participants),
        ),
    )


async def get_room_stats(conn: Connection, redis: Redis, *, event_id: UUID) -> WaitingRoomStats:
    settings = await load_room(conn, event_id=event_id)
    return await _stats(conn, redis, settings)


async def update_room(
    conn: Connection, redis: Redis, *, event_id: UUID, patch: WaitingRoomPatch
) -> WaitingRoomStats:
    """Pause or resume, change the admission factor, the rate cap or the proof of work."""
    before = await load_room(conn, event_id=event_id)
    row = await conn.fetchrow(
        Q.update_waiting_room, event_id, patch.paused, patch.admission_factor, patch.max_admit_per_s
    )
    if row is None:  # the room is gone meanwhile
        raise NoWaitingRoom()
    settings = msgspec.structs.replace(
        before,
        paused=row["paused"],
        admission_factor=row["admission_factor"],
        max_admit_per_s=row["max_admit_per_s"],
    )
    if patch.pow_difficulty is not None:
        if patch.pow_difficulty == 0:
            await redis.delete(keys.pow_difficulty(event_id))
        else:
            await redis.set(keys.pow_difficulty(event_id), patch.pow_difficulty)
    await request_advance(redis, event_id=event_id)
    return await _stats(conn, redis, settings)


async def list_lottery_draws(
    conn: Connection, redis: Redis, *, event_id: UUID, offset: int, limit: int
) -> LotteryDraws:
    """The commitment, and once the sale has opened the seed and every pre-queue draw in
    queue order (13 hex digits each), so anyone can check the shuffle."""
    settings = await load_room(conn, event_id=event_id)
    now_ms = await redis_now_ms(redis)
    seed = await lottery_seed(redis, settings, now_ms=now_ms)
    revealed = seed is not None and settings.is_open(now_ms)
    participants = int(await redis.zcard(keys.draws(event_id))) if seed else 0
    draws: list[str] = []
    if revealed and limit > 0:
        rows = await redis.zrange(keys.draws(event_id), offset, offset + limit - 1, withscores=True)
        draws = [lottery.score_hex(score) for _, score in rows]
    return LotteryDraws(
        event_id=event_id,
        prequeue=settings.prequeue,  # type: ignore[arg-type]
        commitment=lottery.commitment(seed) if seed else None,
        seed=seed if revealed else None,
        revealed=revealed,
        participants=participants,
        offset=offset,
        draws=draws,
    )

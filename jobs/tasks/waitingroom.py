"""arq tasks of the waiting room.

- `waitingroom.advance` (event id): one tick of one event's queue. Enqueued with the job
  id `wr-advance:<event>` by the stock hook after every change of ticket state and by the
  per-second tick, so at most one is queued or running per event; `keep_result=0` frees
  the id as soon as it ends.
- `waitingroom.tick` (cron, every second): an advance for every event with a live queue.
- `waitingroom.notify_turn` (event id, address): the "your turn" email of an admitted
  visitor who left an address, queued to `mail.send` (enqueued by the tick, after it).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from arq import cron, func

from core.resources import Resources
from waitingroom import keys, service


async def advance(ctx: dict[str, Any], event_id: str) -> int:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        results = await service.advance_until_settled(
            conn, res.redis, event_id=UUID(event_id), publisher=res.publisher
        )
    return sum(len(r.admitted) for r in results)


async def tick(ctx: dict[str, Any]) -> int:
    res: Resources = ctx["res"]
    return await service.tick_queues(res.redis)


async def notify_turn(ctx: dict[str, Any], event_id: str, to: str) -> None:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        await service.queue_turn_mail(conn, res.redis, event_id=UUID(event_id), to=to)


functions: list[Any] = [
    func(advance, name=keys.ADVANCE_JOB, keep_result=0, timeout=30, max_tries=1),
    func(notify_turn, name=keys.NOTIFY_TURN_JOB, keep_result=60, timeout=30, max_tries=5),
]
cron_jobs: list[Any] = [
    cron(tick, name="waitingroom.tick", second=set(range(60)), microsecond=0, keep_result=0, timeout=10)
]

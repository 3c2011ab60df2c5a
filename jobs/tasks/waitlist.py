"""arq tasks: the waitlist (reservations/waitlist/offers.py).

`waitlist.offer` runs an event's offer round after its stock changed with tickets back;
`waitlist.expire_offer` runs one at an offer's `offer_expires_at` (job id
`waitlist-expire:<entry id>`), ending it and passing its tickets on; `cron:waitlist.sweep`
(every 3 s) runs a round for every event with an offer past its time or a kept ticket not
yet offered: the safety net when a job was lost or ran while another round held the lock.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from arq.cron import cron
from arq.worker import func

from core.resources import Resources
from reservations.waitlist import keys, offers


async def offer(ctx: dict[str, Any], event_id: str) -> list[str]:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        done = await offers.offer_returned_tickets(conn, res.redis, event_id=UUID(event_id))
    return [str(e) for e in done.offered]


async def sweep(ctx: dict[str, Any]) -> int:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        return await offers.sweep_offers(conn, res.redis)


functions: list[Any] = [
    func(offer, name=keys.OFFER_JOB, keep_result=0, max_tries=3, timeout=30),
    func(offer, name=keys.EXPIRE_OFFER_JOB, keep_result=0, max_tries=3, timeout=30),
]
cron_jobs: list[Any] = [
    cron(
        sweep,
        name=keys.SWEEP_JOB,
        second=set(range(0, 60, 3)),
        microsecond=0,
        unique=True,
        run_at_startup=True,
        timeout=30,
        keep_result=0,
    )
]

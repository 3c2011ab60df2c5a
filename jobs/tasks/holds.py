"""arq tasks: holds.

`holds.sweep` runs every second and expires every overdue hold, so a hold ends within
about a second of its `expires_at` (ADR 0022: holds enqueue no job of their own).
`holds.expire` still runs the per-hold jobs (`hold-expire:<hold id>`) an earlier release
queued, so none is lost across an upgrade.
`cron:holds.reconcile` (every 15 s) settles or refunds a confirm's charge that its
process never settled (reservations/holds/reconcile.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from arq.cron import cron
from arq.worker import func

from core.resources import Resources
from reservations import keys
from reservations.holds import reconcile
from reservations.holds import service as holds


async def expire(ctx: dict[str, Any], hold_id: str) -> bool:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        return await holds.expire_hold(conn, res.redis, hold_id=UUID(hold_id))


async def sweep(ctx: dict[str, Any]) -> int:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        return await holds.expire_holds(conn, res.redis)


async def reconcile_charges(ctx: dict[str, Any]) -> dict[str, int]:
    res: Resources = ctx["res"]
    report = await reconcile.settle_stranded_charges(
        res.pool, res.redis, http=res.http, older_than_s=reconcile.charge_grace_s()
    )
    return msgspec.structs.asdict(report)


functions: list[Any] = [func(expire, name=keys.EXPIRE_HOLD_JOB, keep_result=60, max_tries=3, timeout=30)]
cron_jobs: list[Any] = [
    cron(
        sweep,
        name="holds.sweep",
        second=set(range(60)),
        microsecond=0,
        unique=True,
        run_at_startup=True,
        timeout=30,
        keep_result=0,
    ),
    cron(
        reconcile_charges,
        name="cron:holds.reconcile",
        second={7, 22, 37, 52},
        microsecond=0,
        unique=True,
        run_at_startup=True,
        timeout=60,
        keep_result=3600,
    ),
]

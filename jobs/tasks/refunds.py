"""arq tasks: refunds.

`refunds.cancel_event` refunds every purchase of a cancelled event (each exactly once; see
reservations/refunds/service.py) and so tells every holder. A provider outage fails the
try; arq tries again with a growing delay.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from arq import Retry
from arq.worker import func

from core.resources import Resources
from reservations.errors import PaymentUnavailable
from reservations.refunds import service as refunds
from reservations.refunds.keys import CANCEL_EVENT_JOB


async def cancel_event(ctx: dict[str, Any], event_id: str) -> int:
    res: Resources = ctx["res"]
    try:
        return await refunds.refund_cancelled_event(
            res.pool, res.redis, http=res.http, event_id=UUID(event_id)
        )
    except PaymentUnavailable as exc:
        raise Retry(defer=min(5 * ctx.get("job_try", 1), 300)) from exc


functions: list[Any] = [
    func(cancel_event, name=CANCEL_EVENT_JOB, max_tries=50, timeout=600, keep_result=3600)
]

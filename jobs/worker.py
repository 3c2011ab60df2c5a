"""arq worker settings: `WorkerSettings` consumes the default queue (hold expiry, queue
advance, live pushes, reconcile, crons) with arq's stock `Worker`. Orders are not arq jobs:
the orders worker (`python -m jobs orders`, jobs/orders_worker.py) reads them from the
stream `ticket_orders`. `make run` starts both.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from prometheus_client import start_http_server

from core.config import get_settings
from core.credentials import refuse_unsafe_secrets
from core.logs import configure_logging
from core.resources import open_resources, redis_settings_of
from core.runtime import settle_heap
from jobs.tasks import holds, mail, orders, refunds, waitingroom, waitlist
from waitingroom.plug import plug_into_reservations

_metrics_served = False


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    refuse_unsafe_secrets(settings)  # also when started by `arq` rather than `python -m jobs`
    configure_logging(json=settings.log_json)
    # arq logs every job start and end; with per-second crons that drowns everything else.
    # Failures and retries are warnings and still show; /api/admin/jobs has the full record.
    logging.getLogger("arq.worker").setLevel(logging.WARNING)
    global _metrics_served
    if settings.metrics_port and not _metrics_served:  # this process's own instruments
        start_http_server(settings.metrics_port)  # once: startup runs again after a fault
        _metrics_served = True
    plug_into_reservations()
    ctx["res"] = await open_resources(settings, worker=True)  # pool size: DB_POOL_MAX
    settle_heap()


async def shutdown(ctx: dict[str, Any]) -> None:
    res = ctx.pop("res", None)  # once: a worker restarted after a fault may close twice
    if res is not None:
        await res.close()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        *holds.functions,
        *waitingroom.functions,
        *orders.default_functions,
        *mail.functions,
        *refunds.functions,
        *waitlist.functions,
    ]
    cron_jobs: ClassVar[list[Any]] = [
        *holds.cron_jobs,
        *waitingroom.cron_jobs,
        *orders.cron_jobs,
        *mail.cron_jobs,
        *waitlist.cron_jobs,
    ]
    redis_settings = redis_settings_of(get_settings())
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 50
    job_timeout = 60
    keep_result = 3600
    poll_delay = 0.1

"""`python -m jobs orders` runs an orders worker (`jobs/orders_worker.py`: a consumer of the
Redis Stream `ticket_orders`); `python -m jobs jobs.worker.WorkerSettings` runs arq's stock
`Worker` on the default queue (hold expiry, queue advance, live pushes, reconcile, crons) —
what `arq jobs.worker.WorkerSettings` does, on uvloop, and started again in-process after a
Redis or PostgreSQL fault instead of exiting (jobs/default_worker.py).

uvloop (installed with uvicorn[standard]; the API runs on it too) makes the workers'
network I/O cheaper: in the flash-sale benchmark at 1/10 the orders worker, which spends
most of its time writing to sockets (PostgreSQL, Redis, the payment provider), decided
88 → 119 orders a second (docs/benchmarks.md). arq's own options (--watch, --check,
--burst) stay on `arq`.
"""

from __future__ import annotations

import sys
from typing import Any

import uvloop
from arq.utils import import_string
from arq.worker import get_kwargs

from core.config import get_settings
from core.credentials import refuse_unsafe_secrets
from jobs.default_worker import DefaultWorker

ORDERS = "orders"
USAGE = "usage: python -m jobs orders|jobs.worker.WorkerSettings"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit(USAGE)
    refuse_unsafe_secrets(get_settings())  # in production: exit 1 on a missing, public or short secret
    if args[0] == ORDERS:
        from jobs.orders_worker import serve

        uvloop.run(serve())
        return
    settings = import_string(args[0])
    kwargs: dict[str, Any] = get_kwargs(settings)
    uvloop.run(DefaultWorker(kwargs).run())


if __name__ == "__main__":
    main()

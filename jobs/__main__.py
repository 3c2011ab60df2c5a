"""`python -m jobs <settings>`: what `arq <settings>` does, on uvloop, with the worker of
`jobs/arq_worker.py` (the jobs of one poll start together).

The argument is the same as arq's command line: `jobs.worker.WorkerSettings` (default
queue) or `jobs.worker.OrdersWorkerSettings` (`ticket_orders`). uvloop (installed with
uvicorn[standard]; the API runs on it too) makes the workers' network I/O cheaper: in
the flash-sale benchmark at 1/10 the orders worker, which spends most of its time writing
to sockets (PostgreSQL, Redis, the payment provider), decided 88 → 119 orders a second
(docs/benchmarks.md). arq's own options (--watch, --check, --burst) stay on `arq`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvloop
from arq.utils import import_string
from arq.worker import get_kwargs

from core.config import get_settings
from core.credentials import refuse_unsafe_secrets
from jobs.arq_worker import Worker


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m jobs jobs.worker.WorkerSettings|jobs.worker.OrdersWorkerSettings")
    refuse_unsafe_secrets(get_settings())  # in production: exit 1 on a missing, public or short secret
    settings = import_string(args[0])
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    kwargs: dict[str, Any] = get_kwargs(settings)
    Worker(**kwargs).run()


if __name__ == "__main__":
    main()

"""The arq queues every process shares: the API enqueues, the workers consume, the
metrics and the job monitor read their depth. Each name is written here once."""

from __future__ import annotations

from arq.constants import default_queue_name

DEFAULT_QUEUE: str = default_queue_name  # hold expiry, waiting-room advance, live pushes, crons
ORDERS_QUEUE = "ticket_orders"  # accepted orders, decided by the orders worker

ALL = (DEFAULT_QUEUE, ORDERS_QUEUE)

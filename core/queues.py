"""The queues every process shares: the API enqueues, the workers consume, the metrics and
the job monitor read their depth. Each name is written here once."""

from __future__ import annotations

from arq.constants import default_queue_name

# arq's queue (a sorted set): hold expiry, waiting-room advance, live pushes, crons.
DEFAULT_QUEUE: str = default_queue_name
# A Redis Stream: accepted orders, read by the orders workers as one consumer group.
ORDERS_QUEUE = "ticket_orders"
ORDERS_GROUP = "deciders"

ALL = (ORDERS_QUEUE, DEFAULT_QUEUE)

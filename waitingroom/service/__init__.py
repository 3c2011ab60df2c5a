"""The waiting room's service functions, one module per concern:

- queue: join (one place per customer or visitor), look up, leave, rate limits, proof of work;
- callers: who calls the queue endpoints (customer, visitor, newcomer);
- admission: the per-event tick (advance_queue) and require_admission for holds;
- organizer: stats, controls, the public lottery record;
- live: the visitor's WebSocket;
- lottery, proof, tokens, eta: pure rules (no I/O).
"""

from waitingroom.service.admission import (
    advance_queue,
    advance_until_settled,
    request_advance,
    require_admission,
    tick_queues,
)
from waitingroom.service.callers import QueueCaller, queue_caller
from waitingroom.service.live import serve_queue_socket
from waitingroom.service.organizer import get_room_stats, list_lottery_draws, update_room
from waitingroom.service.queue import (
    get_queue_place,
    get_queue_place_as,
    issue_pow_challenge,
    issue_pow_challenge_as,
    join_queue,
    join_queue_as,
    leave_queue,
    leave_queue_as,
)

__all__ = [
    "QueueCaller",
    "advance_queue",
    "advance_until_settled",
    "get_queue_place",
    "get_queue_place_as",
    "get_room_stats",
    "issue_pow_challenge",
    "issue_pow_challenge_as",
    "join_queue",
    "join_queue_as",
    "leave_queue",
    "leave_queue_as",
    "list_lottery_draws",
    "queue_caller",
    "request_advance",
    "require_admission",
    "serve_queue_socket",
    "tick_queues",
    "update_room",
]

"""The waiting room's service functions, one module per concern:

- queue: join (one place per customer), look up, leave, rate limits, proof of work;
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
from waitingroom.service.live import serve_queue_socket
from waitingroom.service.organizer import get_room_stats, list_lottery_draws, update_room
from waitingroom.service.queue import get_queue_place, issue_pow_challenge, join_queue, leave_queue

__all__ = [
    "advance_queue",
    "advance_until_settled",
    "get_queue_place",
    "get_room_stats",
    "issue_pow_challenge",
    "join_queue",
    "leave_queue",
    "list_lottery_draws",
    "request_advance",
    "require_admission",
    "serve_queue_socket",
    "tick_queues",
    "update_room",
]

"""The waiting room's service functions, one module per concern:

- queue: join (one place per customer or visitor), look up, leave, rate limits, proof of work;
- callers: who calls the queue endpoints (customer, visitor, newcomer);
- admission: the per-event tick (advance_queue) and require_admission for holds;
- grace: one return to the front of the line after a hold expired;
- notify: the optional "your turn" email;
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
from waitingroom.service.grace import grant_grace, return_to_queue, return_to_queue_as
from waitingroom.service.live import serve_queue_socket
from waitingroom.service.notify import queue_turn_mail, set_turn_email, set_turn_email_as
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
    "grant_grace",
    "issue_pow_challenge",
    "issue_pow_challenge_as",
    "join_queue",
    "join_queue_as",
    "leave_queue",
    "leave_queue_as",
    "list_lottery_draws",
    "queue_caller",
    "queue_turn_mail",
    "request_advance",
    "require_admission",
    "return_to_queue",
    "return_to_queue_as",
    "serve_queue_socket",
    "set_turn_email",
    "set_turn_email_as",
    "tick_queues",
    "update_room",
]

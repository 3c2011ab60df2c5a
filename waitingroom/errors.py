"""The waiting room's errors; each carries its HTTP status and stable code (docs/errors.md)."""

from __future__ import annotations

from core import limits
from core.errors import Conflict, Forbidden, NotFound
from reservations.errors import AdmissionRequired, EventNotFound

__all__ = [
    "AdmissionRequired",
    "EventNotFound",
    "NoWaitingRoom",
    "NotInQueue",
    "ProofOfWorkRequired",
    "RateLimited",
]


class NoWaitingRoom(Conflict):
    code = "no_waiting_room"
    default_detail = "This event has no waiting room; tickets can be held directly."


class NotInQueue(NotFound):
    code = "not_in_queue"
    default_detail = "This customer has no place in the queue and no admission; join first."


class ProofOfWorkRequired(Forbidden):
    code = "pow_required"
    default_detail = "Solve a fresh challenge from GET /api/events/{id}/queue/challenge before joining."


class RateLimited(limits.RateLimited):
    default_detail = "Too many attempts to join; wait and try again."

    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(retry_after_ms, "Too many attempts to join")

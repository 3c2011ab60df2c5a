"""The waiting room's errors; each carries its HTTP status and stable code (docs/errors.md)."""

from __future__ import annotations

import math

from core.errors import AppError, Conflict, Forbidden, NotFound
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


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    default_detail = "Too many attempts to join; wait and try again."

    def __init__(self, retry_after_ms: int) -> None:
        seconds = max(1, math.ceil(retry_after_ms / 1000))
        super().__init__(
            f"Too many attempts to join; try again in {seconds} s.", headers={"Retry-After": str(seconds)}
        )
        self.retry_after_s = seconds

"""The waiting room's errors; each carries its HTTP status and stable code (docs/errors.md)."""

from __future__ import annotations

from core import limits
from core.errors import AppError, Conflict, Forbidden, NotFound
from reservations.errors import AdmissionRequired, EventNotFound

__all__ = [
    "AdmissionRequired",
    "EventNotFound",
    "GraceExpired",
    "GraceUnavailable",
    "GraceUsed",
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


class GraceUnavailable(Conflict):
    code = "grace_unavailable"
    default_detail = (
        "There is nothing to come back to: no hold of this visitor expired in this sale, or an"
        " admission of theirs is still open."
    )


class GraceUsed(Conflict):
    code = "grace_used"
    default_detail = "The one return to the front of the line was already used."


class GraceExpired(AppError):
    status_code = 410
    code = "grace_expired"
    default_detail = "The window to come back to the front of the line has passed; join the queue again."

"""Job names of refunds (registered by jobs/tasks/refunds.py)."""

from __future__ import annotations

from uuid import UUID

CANCEL_EVENT_JOB = "refunds.cancel_event"


def cancel_event_job_id(event_id: UUID | str) -> str:
    """One cancellation job per event at a time."""
    return f"cancel-event:{event_id}"

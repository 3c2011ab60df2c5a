"""Job names, job ids and Redis keys of the waitlist (registered by jobs/tasks/waitlist.py)."""

from __future__ import annotations

from uuid import UUID

OFFER_JOB = "waitlist.offer"  # offer an event's kept tickets to its next waiting entries
EXPIRE_OFFER_JOB = "waitlist.expire_offer"  # at an offer's expiry: pass it on
SWEEP_JOB = "cron:waitlist.sweep"  # the safety net of both


# The hint below lapses after a day without joins; the sweep offers kept tickets without it.
WAITING_HINT_TTL_S = 24 * 3600


def expire_offer_job_id(entry_id: UUID | str) -> str:
    """arq job id of an offer's expiry: one per offer."""
    return f"waitlist-expire:{entry_id}"


def waiting(event_id: UUID | str) -> str:
    """Present while the event may have waiting entries (set at a join, dropped by an offer
    round that found none): a stock change of an event without it enqueues nothing."""
    return f"cp:waitlist:waiting:{{{event_id}}}"
